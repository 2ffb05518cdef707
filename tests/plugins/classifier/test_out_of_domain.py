"""Out-of-domain speech (非诉求: greetings, thanks, chit-chat, ASR junk, unrelated questions) gets no matter,
with the real session model; requests — short, or wrapped in chit-chat — still get their matters."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, cast

import pytest
import redis as redis_lib
from sqlalchemy import select

from callcenter import events
from callcenter.catalogue import Catalogue
from callcenter.db.models import Suggestion, TranscriptUtterance
from callcenter.db.session import get_sessionmaker, session_scope
from callcenter.pipeline import SuggestionPipeline
from callcenter.plugins.classifier.corpus import (
    OUT_OF_DOMAIN,
    generate_out_of_domain,
    load_out_of_domain,
    mix_requests,
    out_of_domain_pools,
)
from callcenter.plugins.classifier.suggester import Suggester, SuggesterHolder
from callcenter.plugins.classifier.training import ModelInfo
from callcenter.services.calls import get_or_create_call
from tests.plugins.classifier.cases import HAND_CASES
from tests.plugins.classifier.ood_cases import KNOWN_EXAMPLE, OOD_HELDOUT

pytestmark = pytest.mark.slow

#: Bare requests: callers often say no more than this, and it must not look like chit-chat.
SHORT_REQUESTS = {
    "井盖丢了": "井盖",
    "停水了": "停水",
    "家里停电了": "停电",
    "暖气不热": "供暖不热",
    "电梯坏了": "住宅电梯故障",
    "噪音扰民": "噪声扰民",
    "工资不发": "拖欠工资",
    "有人占道经营": "占道经营",
}
#: Requests surrounded by greetings and chit-chat keep their matter.
WRAPPED_REQUESTS = {
    "喂你好，今天真热啊，我们小区又停水了，谢谢啊": "停水",
    "你好你好 那个 楼下饭馆油烟太大了 熏得没法开窗 麻烦你们了 再见": "油烟污染",
    "哎你好，我刚下班回家，发现电梯又坏了，八十岁老人爬不了楼，辛苦了": "住宅电梯故障",
}


def test_known_example_is_rejected(suggester: Suggester) -> None:
    result = suggester.suggest(KNOWN_EXAMPLE)
    assert result.no_suggestion_reason == "out_of_domain"
    assert result.matters == [] and result.unit is None and not result.auto_dispatch
    assert result.in_domain is False
    assert result.out_of_domain_score is not None and result.out_of_domain_score >= suggester.ood_threshold
    data = result.to_dict()
    # backward compatible: every field of an ordinary suggestion is still there, two are added
    ordinary = suggester.suggest("楼下饭馆油烟太大熏得没法开窗").to_dict()
    assert set(data) == set(ordinary)
    assert {"in_domain", "out_of_domain_score"} <= set(data)
    assert data["matters"] == [] and data["unit"] is None and data["routing"] is None
    assert data["confidence"] == 0.0 and data["evidence"] == []
    assert "未识别到诉求事项" in data["message"]
    assert ordinary["in_domain"] is True and ordinary["no_suggestion_reason"] is None
    assert 0.0 <= ordinary["out_of_domain_score"] < suggester.ood_threshold


def test_heldout_out_of_domain_rejection_rate(suggester: Suggester) -> None:
    results = suggester.suggest_many(OOD_HELDOUT)
    rejected = [r.no_suggestion_reason == "out_of_domain" for r in results]
    misses = [
        (t, r.matters[0].name) for t, r, ok in zip(OOD_HELDOUT, results, rejected, strict=True) if not ok
    ]
    rate = sum(rejected) / len(OOD_HELDOUT)
    assert rate >= 0.9, (rate, misses)
    assert not any(r.auto_dispatch for r in results)  # a miss still never clears the dispatch threshold


def test_heldout_set_is_not_in_training_data() -> None:
    trained_texts = {text for _, text in load_out_of_domain()}
    assert len(OOD_HELDOUT) >= 100
    assert not set(OOD_HELDOUT) & trained_texts


@pytest.mark.parametrize(("text", "name"), sorted(SHORT_REQUESTS.items()))
def test_short_requests_stay_in_domain(suggester: Suggester, text: str, name: str) -> None:
    result = suggester.suggest(text)
    assert result.in_domain, result.out_of_domain_score
    assert any(name in m.name for m in result.matters)


@pytest.mark.parametrize(("text", "name"), sorted(WRAPPED_REQUESTS.items()))
def test_requests_wrapped_in_chitchat_stay_in_domain(suggester: Suggester, text: str, name: str) -> None:
    result = suggester.suggest(text)
    assert result.in_domain, result.out_of_domain_score
    assert result.matters[0].name == name


def test_hand_written_requests_rarely_rejected(suggester: Suggester) -> None:
    results = suggester.suggest_many([t for _, _, t in HAND_CASES])
    rejected = [t for (_, _, t), r in zip(HAND_CASES, results, strict=True) if not r.in_domain]
    assert len(rejected) <= 1, rejected


def test_training_metrics_bound_the_accuracy_cost(trained: ModelInfo) -> None:
    """A request wrongly rejected counts as a top-1 error: ≤ 1 % of the held-out requests may be rejected."""
    ood = trained.metrics["out_of_domain"]
    assert ood["n_out"] == trained.counts["out_of_domain_test"] > 0
    assert ood["false_rejection_rate"] <= 0.01, ood
    assert ood["rejection_rate"] >= 0.8, ood
    assert [p["threshold"] for p in ood["curve"]] == sorted(p["threshold"] for p in ood["curve"])
    rates = [p["rejection_rate"] for p in ood["curve"]]
    assert rates == sorted(rates, reverse=True)  # a higher threshold never rejects more
    assert trained.counts["out_of_domain_train"] > 0 and trained.counts["requests_in_chitchat_train"] > 0


def test_model_without_gate_still_serves(suggester: Suggester, catalogue: Catalogue) -> None:
    """A model trained before the gate existed (no detector weights) suggests as it used to."""
    old = copy.copy(suggester.model)
    old.ood_weights = None
    result = Suggester(old, catalogue, threshold=0.85, version="old").suggest(KNOWN_EXAMPLE)
    assert result.in_domain and len(result.matters) == 3
    assert result.out_of_domain_score is None and result.no_suggestion_reason is None


def test_http_returns_200_with_the_reason(trained: ModelInfo, models_dir: Path) -> None:
    from tests.plugins.classifier.test_http import make_client

    response = make_client(models_dir).post("/api/suggest", json={"text": "谢谢你 你们辛苦了 再见"})
    assert response.status_code == 200  # a valid text that is not a request: not a 422
    data = response.json()
    assert data["no_suggestion_reason"] == "out_of_domain" and data["in_domain"] is False
    assert data["matters"] == [] and data["auto_dispatch"] is False


def test_out_of_domain_corpus(catalogue: Catalogue) -> None:
    rows = load_out_of_domain()
    assert len(rows) >= 400
    kinds = {kind for kind, _ in rows}
    assert kinds == {"greeting", "thanks", "chitchat", "asr_noise", "wrong", "question"}
    pools = out_of_domain_pools(rows)
    assert not set(pools["train"]) & set(pools["test"])
    assert set(pools["train"]) | set(pools["test"]) == {t for _, t in rows}
    per = {"train": 2, "calib": 1, "test": 1}
    samples = generate_out_of_domain(catalogue, per, seed=3)
    assert samples == generate_out_of_domain(catalogue, per, seed=3)  # deterministic
    assert {s.matter_code for s in samples} == {OUT_OF_DOMAIN}
    assert OUT_OF_DOMAIN not in catalogue.matters
    held = set(pools["test"])
    train_texts = [s.text for s in samples if s.split == "train"]
    assert train_texts and not any(t in held for t in train_texts)


def test_mixed_requests_keep_their_matter(catalogue: Catalogue) -> None:
    from callcenter.plugins.classifier.corpus import Sample

    base = [Sample("楼下饭馆油烟太大", "0600027", "train"), Sample("停水了", "1390001", "calib")]
    mixed = mix_requests(base, {"train": 1, "calib": 1}, seed=1)
    assert mixed and all(s.split in ("train", "calib") for s in mixed)
    for s in mixed:
        original = next(b for b in base if b.split == s.split)
        assert s.matter_code == original.matter_code
        assert original.text in s.text and s.text != original.text


def test_pipeline_stores_and_publishes_no_matter_then_refines(
    sqlite_url: str, redis_client: redis_lib.Redis, trained_model_dir: Path
) -> None:
    """Transcript pipeline (real Redis, SQLite, model): a greeting gives a stored suggestion without matters
    that is never auto-dispatched and is announced with the reason; the request that follows gets matters."""
    holder = SuggesterHolder(trained_model_dir)

    def suggest(text: str, hint: dict[str, object] | None) -> dict[str, object]:
        return holder.get().suggest(text, caller_hint=hint).to_dict()

    pipeline = SuggestionPipeline(get_sessionmaker(sqlite_url), redis_client, suggest, consumer="test")
    pipeline.ensure_group()
    uniqueid = "1700000999.1"
    for seq, text in enumerate(["喂你好 能听到吗", "我们小区停水两天了一直没人管"], start=1):
        with session_scope(sqlite_url) as s:
            call = get_or_create_call(s, uniqueid, caller_number="13800002222")
            s.add(TranscriptUtterance(call_id=call.id, seq=seq, text=text, engine="whisper"))
        payload = {"uniqueid": uniqueid, "seq": seq, "text": text, "final": True}
        events.publish_now(redis_client, events.STREAM_TRANSCRIPTS, "transcript.final", payload)
        assert pipeline.run_once(block_ms=100) == 1
    with session_scope(sqlite_url) as s:
        first, second = s.scalars(select(Suggestion).order_by(Suggestion.id)).all()
        assert first.matters == [] and first.unit_code is None and first.auto_dispatch is False
        assert first.confidence == 0.0
        assert second.matters and second.matters[0]["name"] == "停水"
    entries = cast(
        list[tuple[bytes, dict[Any, Any]]], redis_client.xrange(events.transcript_stream(uniqueid))
    )
    ready = [d for d in (events.decode(f)["data"] for _, f in entries) if "suggestion_id" in d]
    assert ready[0]["no_suggestion_reason"] == "out_of_domain" and ready[0]["in_domain"] is False
    assert ready[0]["matters"] == [] and ready[0]["message"]
    assert ready[1]["in_domain"] is True and ready[1]["no_suggestion_reason"] is None


def test_the_rejection_threshold_is_a_setting(
    trained: ModelInfo, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callcenter.config import get_settings

    monkeypatch.setenv("CALLCENTER_CLASSIFIER__OUT_OF_DOMAIN_THRESHOLD", "1.0")
    get_settings.cache_clear()
    try:
        lenient = Suggester.load(models_dir, threshold=0.85)
    finally:
        monkeypatch.delenv("CALLCENTER_CLASSIFIER__OUT_OF_DOMAIN_THRESHOLD")
        get_settings.cache_clear()
    assert lenient.ood_threshold == 1.0
    assert lenient.suggest(KNOWN_EXAMPLE).matters  # a probability never reaches 1.0: nothing rejected
    assert Suggester.load(models_dir, threshold=0.85).ood_threshold == 0.9
