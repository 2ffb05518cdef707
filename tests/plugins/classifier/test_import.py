"""Historical work orders (``callcenter train --import``): reading CSV / XLSX with bad input, mapping the
center's category names onto the catalogue, the review file, and the gated activation (real trainings
in a subprocess)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from callcenter.catalogue import Catalogue
from callcenter.plugins.classifier.importer import (
    MAX_TEXT_CHARS,
    ImportFileError,
    ImportIssue,
    OrderRow,
    load_orders,
    load_stored,
    map_categories,
    read_manual_mapping,
    store,
    to_samples,
    write_review,
)
from callcenter.plugins.classifier.training import cap_imported, current_version, split_imported


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_csv_bad_rows_are_reported_with_line_numbers_and_good_rows_kept(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    write_csv(
        path,
        [
            ["工单内容", "工单分类", "承办单位", "地址"],
            ["小区门口路灯不亮了好几天", "路灯异常", "城管委", "东城区景山街道"],
            ["", "路灯异常", "", ""],
            ["很长" * (MAX_TEXT_CHARS // 2 + 10), "路灯异常", "", ""],
            ["楼上装修噪音太大", "", "", ""],
            ["多行\n文本：井盖丢了", "污水井盖异常", "", ""],
        ],
    )
    with open(path, "ab") as fh:  # a GBK line in a UTF-8 file
        fh.write("停水三天了,停水\n".encode("gbk"))
        fh.write("最后一行正常,停水\n".encode())
    result = load_orders(path)
    assert [r.line for r in result.rows] == [2, 6, 9]
    assert result.rows[1].text == "多行\n文本：井盖丢了"
    reasons = {i.line: i.reason for i in result.issues}
    assert set(reasons) == {3, 4, 5, 8}
    assert "empty text" in reasons[3]
    assert "over 20,000" in reasons[4]
    assert "no category" in reasons[5]
    assert "not valid utf-8" in reasons[8] and "gbk" in reasons[8]
    assert str(ImportIssue(8, "x")) == "line 8: x"


def test_gbk_file_reads_with_its_encoding(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "gbk.csv", [["text", "category"], ["暖气不热", "供热"]], encoding="gbk")
    assert load_orders(path).issues  # as UTF-8: the line is reported
    rows = load_orders(path, encoding="gbk").rows
    assert [(r.text, r.category_name) for r in rows] == [("暖气不热", "供热")]


def test_missing_columns_refuse_the_file_with_the_header_found(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", [["编号", "内容"], ["1", "路灯不亮"]])
    with pytest.raises(ImportFileError, match=r"line 1: missing column\(s\) category.*编号"):
        load_orders(path)
    with pytest.raises(ImportFileError, match="unknown format"):
        load_orders(write_csv(tmp_path / "x.doc", [["a"]]))
    with pytest.raises(ImportFileError, match="empty file"):
        load_orders(write_csv(tmp_path / "empty.csv", []))


def test_xlsx_read_only(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["留言主题", "留言详情", "一级分类"])
    sheet.append(["路灯坏了", "景山前街的路灯晚上不亮", "路灯异常"])
    sheet.append([None, None, "路灯异常"])
    sheet.append(["噪音", "工地夜里施工", None])
    path = tmp_path / "orders.xlsx"
    book.save(path)
    result = load_orders(path)
    assert [(r.line, r.subject, r.text) for r in result.rows] == [(2, "路灯坏了", "景山前街的路灯晚上不亮")]
    assert [i.line for i in result.issues] == [3, 4]  # no text; no category
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    with pytest.raises(ImportFileError, match="not a readable XLSX"):
        load_orders(tmp_path / "broken.xlsx")


def test_mapping_exact_path_category_fuzzy_manual_unmapped(catalogue: Catalogue, tmp_path: Path) -> None:
    names = Counter(
        {
            "路灯异常": 5,  # exact matter name
            "城市管理/市政设施/路灯异常": 3,  # path: last segment
            "教育": 4,  # category name
            "路灯异長": 2,  # typo: fuzzy
            "其他杂项": 7,  # nothing
            "手工映射": 1,
        }
    )
    street_light = next(m.code for m in catalogue.matters.values() if m.name == "路灯异常")
    m = map_categories(names, catalogue, manual={"手工映射": street_light})
    assert (m["路灯异常"].how, m["路灯异常"].matter_code) == ("exact", street_light)
    assert m["城市管理/市政设施/路灯异常"].matter_code == street_light
    assert (m["教育"].how, m["教育"].matter_code, m["教育"].category_code) == ("category", None, "16")
    assert (m["路灯异長"].how, m["路灯异長"].matter_code) == ("fuzzy", street_light)
    assert m["其他杂项"].how == "unmapped" and len(m["其他杂项"].candidates) == 3
    assert (m["手工映射"].how, m["手工映射"].matter_code) == ("manual", street_light)

    review = tmp_path / "review.csv"
    n = write_review(review, m, names, {"其他杂项": "随便说点什么"}, catalogue)
    rows = list(csv.DictReader(review.read_text(encoding="utf-8-sig").splitlines()))
    assert n == len(rows) == 3
    assert rows[0]["name"] == "其他杂项" and rows[0]["how"] == "unmapped" and rows[0]["rows"] == "7"
    assert rows[0]["example"] == "随便说点什么"
    # the review file, with a code filled in, is the hand mapping of the next run
    rows[0]["code"] = "1600000"[:2]
    with open(review, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    manual = read_manual_mapping(review)
    assert manual["其他杂项"] == "16"
    assert map_categories(Counter({"其他杂项": 1}), catalogue, manual)["其他杂项"].category_code == "16"

    samples = to_samples(
        [OrderRow(2, "路灯不亮", "路灯异常", subject="路灯"), OrderRow(3, "x", "其他杂项")], m
    )
    assert [(s.text, s.matter_code) for s in samples] == [("路灯。路灯不亮", street_light)]
    store(tmp_path, "a", samples)
    assert load_stored(tmp_path) == samples


def test_caps_and_holdout_split_are_stable() -> None:
    from callcenter.plugins.classifier.training import ImportedSample

    rows = [ImportedSample(f"文本{i}", "01", "0100001" if i % 2 else None) for i in range(4000)]
    matter_rows, category_rows = cap_imported(rows, per_matter=60, per_category=100)
    assert len(matter_rows) == 60 and len(category_rows) == 100
    train_a, hold_a = split_imported(rows)
    _, hold_b = split_imported(list(reversed(rows)))
    assert {r.text for r in hold_a} == {r.text for r in hold_b}
    assert 300 < len(hold_a) < 500 and len(train_a) + len(hold_a) == 4000
    assert not {r.text for r in hold_a} & {r.text for r in train_a}


# ---------------------------------------------------------------------------------------------------------
# end to end: `callcenter train --import` in a subprocess (real trainings)
# ---------------------------------------------------------------------------------------------------------


def _orders_file(path: Path, catalogue: Catalogue, wrong_training_labels: bool = False) -> Path:
    """Work orders written from the generator's held-out split (seed other than the models'): texts a
    model has not seen, labelled with the matter names (as a center using the catalogue would).

    ``wrong_training_labels``: the rows that ``split_imported`` puts in the training part get the name of
    another matter (a center whose old labels are wrong); the held-out slice keeps the right ones."""
    from callcenter.plugins.classifier.corpus import generate
    from callcenter.plugins.classifier.training import ImportedSample

    generated = generate(catalogue, {"train": 0, "calib": 0, "test": 3}, seed=99)
    samples = [s for s in generated if s.split == "test"]
    _, holdout = split_imported([ImportedSample(s.text, "", s.matter_code) for s in samples])
    held = {h.text for h in holdout}
    codes = sorted(catalogue.matters)
    rows = [["诉求内容", "事项分类"]]
    for s in samples:
        code = s.matter_code
        if wrong_training_labels and s.text not in held:
            code = codes[(codes.index(code) + 97) % len(codes)]
        rows.append([s.text, catalogue.matters[code].name])
    rows.append(["这条的分类中心自己起的名字", "特殊专项甲"])
    return write_csv(path, rows)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callcenter.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CALLCENTER_MODE": "test"},
        timeout=900,
        check=False,
    )


@pytest.mark.slow
def test_import_refuses_a_worse_model_and_keeps_the_current_one(
    models_dir: Path, catalogue: Catalogue, tmp_path: Path
) -> None:
    work = tmp_path / "models"
    shutil.copytree(models_dir, work)
    before = current_version(work)
    orders = _orders_file(tmp_path / "orders.csv", catalogue, wrong_training_labels=True)
    proc = run_cli("train", "--import", str(orders), "--output", str(work), "--per-matter", "4", "-q")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "held-out slice of the import" in proc.stdout
    assert "new model" in proc.stdout and "current model" in proc.stdout  # both figures
    assert "not activated" in proc.stderr
    assert current_version(work) == before
    review_file = Path(str(orders) + ".review.csv")
    review = list(csv.DictReader(review_file.read_text(encoding="utf-8-sig").splitlines()))
    assert [r["name"] for r in review if r["how"] == "unmapped"] == ["特殊专项甲"]
    assert len(load_stored(work)) > 1500  # the import is kept for the next training


@pytest.mark.slow
def test_import_activates_when_there_is_no_current_model(catalogue: Catalogue, tmp_path: Path) -> None:
    work = tmp_path / "models"
    orders = _orders_file(tmp_path / "orders.csv", catalogue)
    proc = run_cli("train", "--import", str(orders), "--output", str(work), "--per-matter", "2", "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no current model" in proc.stdout
    version = current_version(work)
    assert version is not None
    meta = json.loads((work / version / "metadata.json").read_text(encoding="utf-8"))
    assert meta["counts"]["imported_matter_samples"] > 1500
