"""The team-written citizen corpus (training data) and its independence from the development set.

``bench/data/citizen_messages_dev.jsonl`` is evaluation data: the figures of docs/benchmarks.md are only
honest if no training text comes from it. These tests read every training source that holds free text
(the citizen corpus, the catalogue's phrasings and descriptions, the generator's templates, the
out-of-domain texts) and look for any 20-character run or any subject line they share with the dev set.
"""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path

import pytest

from callcenter.catalogue import Catalogue, load_catalogue
from callcenter.plugins.classifier import corpus
from callcenter.plugins.classifier.corpus import CitizenMessage, load_citizen_messages, load_out_of_domain

DEV_FILE = Path(__file__).resolve().parents[3] / "bench" / "data" / "citizen_messages_dev.jsonl"
FIXTURE_CATALOGUE = Path(__file__).resolve().parents[2] / "kernel" / "fixtures" / "catalogue"
#: A run of this many letters/digits/ideographs shared with a dev message is a copy, not a coincidence.
WINDOW = 20
#: Subjects at least this long (letters/digits/ideographs) must not repeat a dev subject.
MIN_SUBJECT = 8


def _norm(text: str) -> str:
    return re.sub(r"[^\w]", "", text)


def _windows(text: str) -> set[str]:
    t = _norm(text)
    return {t[i : i + WINDOW] for i in range(len(t) - WINDOW + 1)}


@pytest.fixture(scope="module")
def citizen(catalogue: Catalogue) -> list[CitizenMessage]:
    return load_citizen_messages(catalogue)


@pytest.fixture(scope="module")
def dev() -> list[dict[str, str]]:
    return [json.loads(line) for line in DEV_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_corpus_covers_every_category_and_request_type(
    citizen: list[CitizenMessage], catalogue: Catalogue
) -> None:
    per_category = collections.Counter(m.category_code for m in citizen)
    assert set(per_category) == set(catalogue.categories)
    assert min(per_category.values()) >= 20, per_category
    assert {m.request_type for m in citizen} == {"投诉", "求助", "咨询", "建议", "表扬"}
    splits = collections.Counter(m.split for m in citizen)
    assert 0.08 < splits["heldout"] / len(citizen) < 0.25, splits
    # long-form messages, not one-liners
    long_ones = sum(len(m.detail) >= 150 for m in citizen)
    assert long_ones / len(citizen) >= 0.2


def test_no_training_text_comes_from_the_dev_set(
    citizen: list[CitizenMessage], dev: list[dict[str, str]], catalogue: Catalogue
) -> None:
    assert len(dev) >= 400
    dev_windows: dict[str, str] = {}
    for row in dev:
        for w in _windows(row["subject"] + row["detail"]):
            dev_windows[w] = row["id"]
    dev_subjects = {_norm(r["subject"]): r["id"] for r in dev if len(_norm(r["subject"])) >= MIN_SUBJECT}

    sources: list[tuple[str, str]] = [(f"citizen {m.id}", f"{m.subject}{m.detail}") for m in citizen]
    for matter in catalogue.matters.values():
        sources.append((f"matter {matter.code}", matter.description))
        sources.extend((f"matter {matter.code}", p) for p in matter.phrasings)
    templates = [t for split in corpus.TEMPLATES.values() for t in split]
    sources.extend(("template", t) for t in templates)
    sources.extend(("out_of_domain", text) for _kind, text in load_out_of_domain())
    shared = [(name, dev_windows[w], w) for name, text in sources for w in _windows(text) if w in dev_windows]
    assert not shared, shared[:5]
    same_subject = [(m.id, dev_subjects[s]) for m in citizen if (s := _norm(m.subject)) in dev_subjects]
    assert not same_subject, same_subject


def _write(folder: Path, lines: list[object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "c01.jsonl").write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n",
        encoding="utf-8",
    )
    return folder


GOOD = {
    "id": "X-1",
    "subject": "井盖响",
    "detail": "小区门口的污水井盖一过车就响",
    "category": "01",
    "matter": "0100002",
    "request_type": "投诉",
}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "line 2: not a citizen message"),
        ({**GOOD, "id": "X-2", "category": "99"}, "line 2: unknown category '99'"),
        ({**GOOD, "id": "X-2", "matter": "1100001"}, "line 2: matter '1100001' is not in category 01"),
        ({**GOOD, "id": "X-2", "matter": "0199999"}, "line 2: matter '0199999' is not in category 01"),
        ({**GOOD, "id": "X-2", "detail": "  "}, "line 2: empty detail"),
        ({**GOOD}, "line 2: empty detail or repeated id 'X-1'"),
        ({"id": "X-2", "subject": "无详情", "category": "01"}, "line 2: not a citizen message"),
    ],
)
def test_bad_corpus_lines_name_file_and_line(
    tmp_path: Path, catalogue: Catalogue, bad: object, message: str
) -> None:
    folder = _write(tmp_path / "corpus", [GOOD, bad])
    with pytest.raises(ValueError, match=re.escape(f"c01.jsonl {message}")):
        load_citizen_messages(catalogue, folder)


def test_loader_reads_a_good_folder(tmp_path: Path, catalogue: Catalogue) -> None:
    folder = _write(tmp_path / "corpus", [GOOD, {**GOOD, "id": "X-2", "matter": None, "subject": ""}, ""])
    got = load_citizen_messages(catalogue, folder)
    assert [m.id for m in got] == ["X-1", "X-2"]
    detail = "小区门口的污水井盖一过车就响"
    assert got[0].views() == [f"井盖响。{detail}", detail, "井盖响"]
    assert got[1].matter_code is None and got[1].views() == [detail, detail]


def test_another_catalogue_keeps_its_same_categories(tmp_path: Path, catalogue: Catalogue) -> None:
    other = {**GOOD, "id": "X-2", "category": "11", "matter": "1100001"}
    folder = _write(tmp_path / "corpus", [GOOD, other])
    # only 01 means the same in the other catalogue: the message of 11 is skipped
    got = load_citizen_messages(catalogue, folder, only_categories={"01"})
    assert [m.id for m in got] == ["X-1"]
    fixture = load_catalogue(FIXTURE_CATALOGUE)
    same = {c for c, cat in fixture.categories.items() if catalogue.categories.get(c, cat).name == cat.name}
    got = load_citizen_messages(fixture, None, only_categories=same)
    # the fixture's 06 is the shipped 06; its matters have other codes, so the corpus's are dropped
    assert got and {m.category_code for m in got} <= same
    assert all(m.matter_code is None or m.matter_code in fixture.matters for m in got)
