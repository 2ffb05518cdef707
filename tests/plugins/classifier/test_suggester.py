"""The suggester with a real trained model: hand-written cases per 大类, bad input, shape, hot reload."""

from __future__ import annotations

import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from callcenter.catalogue import Catalogue
from callcenter.plugins.classifier.places import PlaceHint
from callcenter.plugins.classifier.suggester import ModelNotFound, Suggester, SuggesterHolder
from callcenter.plugins.classifier.training import (
    META_FILE,
    ModelInfo,
    current_version,
    prune_versions,
    set_current,
)
from tests.plugins.classifier.cases import HAND_CASES
from tests.plugins.classifier.conftest import FEEDBACK_MATTER, FEEDBACK_TEXT

pytestmark = pytest.mark.slow

#: Matters the source documents name: these must be right at top-1.
MUST = {
    "楼下新开的饭馆油烟直接往我家窗户里灌": "油烟污染",
    "小区里有人私装地锁把公共车位占了": "私设地锁、阻车桩",
    "我们楼的电梯又坏了八十岁老人爬不了楼": "住宅电梯故障",
    "地铁口天天有小商贩摆摊卖水果": "无照经营游商",
    "单元门上贴满了开锁办证的小广告": "非法小广告",
    "这家饭馆把桌子都摆到人行道上了": "店外经营",
    "公司拖欠我们三个月的工资一直不发": "拖欠工资",
    "家里暖气一点都不热屋里才十几度": "供暖不热",
    "整栋楼都停电了冰箱里的东西都要坏了": "停电",
    "健身房突然关门了办的卡不给退钱": "消费维权",
}


def test_hand_cases_per_category(suggester: Suggester, catalogue: Catalogue) -> None:
    assert {c for c, _, _ in HAND_CASES} == set(catalogue.categories)  # every 大类 has cases
    top1 = top3 = 0
    per_category: dict[str, bool] = {}
    misses = []
    for category, expected, text in HAND_CASES:
        names = set(expected.split("|"))
        result = suggester.suggest(text)
        got = [m.name for m in result.matters]
        assert len(got) == 3 or result.no_suggestion_reason == "out_of_domain"  # a rejection is a miss
        top1 += bool(got) and got[0] in names
        hit3 = bool(names & set(got))
        top3 += hit3
        per_category[category] = per_category.get(category, False) or hit3
        if not hit3:
            misses.append((text, expected, got))
    n = len(HAND_CASES)
    assert top1 / n >= 0.9, misses
    assert top3 / n >= 0.95, misses
    assert all(per_category.values()), per_category


@pytest.mark.parametrize(("text", "name"), sorted(MUST.items()))
def test_source_document_matters_top1(suggester: Suggester, text: str, name: str) -> None:
    result = suggester.suggest(text)
    assert result.matters[0].name == name
    assert result.evidence, "evidence words explain the choice"
    assert result.confidence == result.matters[0].score


def test_full_suggestion_shape(suggester: Suggester) -> None:
    data = suggester.suggest("我家在东城区东华门街道多福巷社区，楼下饭馆油烟太大熏得没法开窗").to_dict()
    keys = {"matters", "unit", "area", "evidence", "auto_dispatch", "model_version", "confidence"}
    assert set(data) >= keys | {"no_suggestion_reason"}
    assert [set(m) for m in data["matters"]] == [{"code", "name", "category", "score"}] * 3
    scores = [m["score"] for m in data["matters"]]
    assert scores == sorted(scores, reverse=True) and scores[-1] >= 0 and scores[0] <= 1
    assert data["matters"][0]["name"] == "油烟污染"
    assert data["unit"] == {"code": "S110101001", "name": "东华门街道办事处"}
    assert data["area"]["district"]["code"] == "110101"
    assert data["area"]["street"]["code"] == "110101001"
    assert data["area"]["community"]["code"] == "110101001001"
    assert "油烟" in data["evidence"]
    assert not any(w in data["evidence"] for w in ("东城区", "东华门街道", "小区"))
    assert data["no_suggestion_reason"] is None
    json.dumps(data, ensure_ascii=False)


def test_auto_dispatch_follows_threshold(suggester: Suggester) -> None:
    text = "怀柔区泉河街道有人在路边烧垃圾烟特别大"
    strict = Suggester(suggester.model, suggester.catalogue, threshold=1.01)
    lenient = Suggester(suggester.model, suggester.catalogue, threshold=0.0)
    assert strict.suggest(text).auto_dispatch is False
    assert lenient.suggest(text).auto_dispatch is True
    # without any place the unit is unknown: never auto-dispatched
    assert lenient.suggest("有人在路边烧垃圾烟特别大").auto_dispatch is False
    # a 属地 matter with only the district known goes to the 12345 center: not auto-dispatched
    only_district = lenient.suggest("怀柔区有人在路边烧垃圾烟特别大")
    assert only_district.unit is not None and only_district.unit.unit_code == "110116-12345"
    assert only_district.auto_dispatch is False


def test_caller_hint_fills_the_place(suggester: Suggester) -> None:
    result = suggester.suggest("楼下有人私装地锁", caller_hint=PlaceHint("110115", "110115005"))
    assert result.place is not None and result.place.source == "history"
    assert result.unit is not None and result.unit.unit_code == "S110115005"


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty"), ("  ", "empty"), ("，。！", "no_content"), ("😀😀", "no_content"),
     ("my street light is broken", "no_chinese"), ("井" * 100_000, "too_long"), (None, "not_text")],
)  # fmt: skip
def test_bad_input_gives_no_suggestion(suggester: Suggester, text: object, reason: str) -> None:
    data = suggester.suggest(text).to_dict()
    assert data["no_suggestion_reason"] == reason
    assert data["matters"] == [] and data["unit"] is None and data["auto_dispatch"] is False
    assert data["message"]


def test_mixed_text_is_classified(suggester: Suggester) -> None:
    result = suggester.suggest("My 路灯 is broken，路灯不亮了 😡")
    assert result.no_suggestion_reason is None
    assert result.matters[0].name == "路灯异常"


def test_fast_features_equal_sklearn(suggester: Suggester) -> None:
    texts = [t for _, _, t in HAND_CASES] + ["", "  a  b  ", "ＡＢＣ路灯  坏了\n\n", "井" * 3000]
    # one character, upper case, a NUL inside a text (no piece boundary), characters beyond the BMP
    texts += ["井", "ABC Road 路灯", "井\x00盖坏了", "\x00", "𠀀𠀁路灯不亮", "路灯\t\t不亮"]
    fast = suggester.model.transform(texts)
    reference = suggester.model.sklearn_transform(texts)
    assert fast.shape == reference.shape
    assert (fast != reference).nnz == 0 or abs(fast - reference).max() < 1e-5
    assert fast.nnz == reference.nnz
    # each text alone gives its own row of the batch
    for k in (0, len(texts) - 4, len(texts) - 1):
        assert abs(suggester.model.transform([texts[k]]) - fast[k]).max() < 1e-6
    # pieces of a long message: one summed row, then one row per piece equal to the piece alone
    groups = [["井盖坏了", "路灯也不亮"], ["噪音扰民"]]
    rows = suggester.model.transform_groups(groups)
    assert rows.shape[0] == 4
    assert abs(rows[1] - suggester.model.transform(["井盖坏了"])).max() < 1e-6
    assert abs(rows[3] - suggester.model.transform(["噪音扰民"])).max() < 1e-6
    assert abs(rows[0] - suggester.model.transform(["井盖坏了路灯也不亮"])).max() > 0  # no straddling grams


def test_batch_equals_single(suggester: Suggester) -> None:
    texts = [t for _, _, t in HAND_CASES[:10]] + ["", "hello"]
    batch = suggester.suggest_many(texts)
    assert [b.to_dict() for b in batch] == [suggester.suggest(t).to_dict() for t in texts]


def test_thread_safe_reads(suggester: Suggester) -> None:
    texts = [t for _, _, t in HAND_CASES]
    expected = [suggester.suggest(t).to_dict() for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            assert list(pool.map(lambda t: suggester.suggest(t).to_dict(), texts)) == expected


def test_feedback_is_learned_and_metadata_written(trained: ModelInfo, suggester: Suggester) -> None:
    assert trained.counts["feedback_samples"] == 3  # one usable row, repeated
    assert trained.counts["feedback_skipped"] == 2
    assert suggester.suggest(FEEDBACK_TEXT).matters[0].code == FEEDBACK_MATTER
    meta = json.loads((trained.path / META_FILE).read_text(encoding="utf-8"))
    assert meta["data_hash"] == suggester.catalogue.data_hash
    assert meta["version"] == trained.version == suggester.version
    assert {"top1", "top3", "macro_f1", "auto_dispatch_curve"} <= set(meta["metrics"])
    assert meta["metrics"]["top3"] >= meta["metrics"]["top1"] > 0.8
    assert current_version(trained.path.parent) == trained.version


def test_hot_reload_swaps_model_without_downtime(trained: ModelInfo, tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(trained.path, models / "v1")
    set_current(models, "v1")
    holder = SuggesterHolder(models, check_interval=0.0)
    first = holder.get()
    assert holder.version == "v1"
    shutil.copytree(trained.path, models / "v2")
    set_current(models, "v2")
    served = holder.get()  # the old model keeps serving while v2 loads in the background
    assert served.version in {"v1", "v2"}
    done = threading.Event()
    for _ in range(600):
        if holder.get().version == "v2":
            done.set()
            break
        done.wait(0.1)
    assert done.is_set(), holder.last_error
    assert holder.get() is not first
    assert holder.get().suggest("路灯不亮了").model_version == "v2"


def test_broken_new_model_keeps_the_old_one(trained: ModelInfo, tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(trained.path, models / "v1")
    set_current(models, "v1")
    holder = SuggesterHolder(models, check_interval=0.0)
    holder.get()
    (models / "bad").mkdir()
    (models / "bad" / "model.joblib").write_bytes(b"not a model")
    (models / "current").write_text("bad\n", encoding="utf-8")
    for _ in range(600):
        holder.get()
        if holder.last_error:
            break
        threading.Event().wait(0.1)
    assert holder.last_error is not None
    assert holder.get().version == "v1"
    # a good model published afterwards is picked up
    shutil.copytree(trained.path, models / "v3")
    set_current(models, "v3")
    for _ in range(600):
        if holder.get().version == "v3":
            break
        threading.Event().wait(0.1)
    assert holder.get().version == "v3"


def test_missing_model(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound):
        Suggester.load(tmp_path)
    with pytest.raises(ModelNotFound):
        SuggesterHolder(tmp_path).get()
    with pytest.raises(FileNotFoundError):
        set_current(tmp_path, "nope")


def test_prune_versions_keeps_newest_and_current(trained: ModelInfo, tmp_path: Path) -> None:
    models = tmp_path / "models"
    for name in ("v1", "v2", "v3", "v4"):
        shutil.copytree(trained.path, models / name)
    set_current(models, "v1")
    assert sorted(prune_versions(models, keep=2)) == ["v2"]
    assert sorted(p.name for p in models.iterdir() if p.is_dir()) == ["v1", "v3", "v4"]
