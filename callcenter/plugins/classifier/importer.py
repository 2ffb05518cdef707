"""Historical work orders (历史工单导入): read a center's CSV / XLSX export and map its category names.

A center that starts with this platform has years of work orders labelled with *its own* category names
(often a 3-level path such as ``城乡建设/物业管理/物业服务``). ``callcenter train --import FILE`` reads
them, maps each distinct name onto the catalogue and trains on the mapped rows together with the
generated corpus (see ``training.train(imported=...)``).

Reading (``read_orders``): CSV (UTF-8, with or without BOM; ``encoding`` for GBK exports) or XLSX
(openpyxl read-only mode, rows streamed: memory does not grow with the file). The header row names the
columns; accepted names, Chinese or English, are in ``COLUMNS``. Bad input never stops the import and
never loses a good row: every problem is an ``ImportIssue`` with its line number and a reason (a line
that is not valid in the encoding, an empty text, a text over ``MAX_TEXT_CHARS``, a row without a
category); a file whose header lacks the text or category column is refused as a whole with the list of
columns it has (``ImportFileError``).

Mapping (``map_categories``), per distinct name, first match wins:

1. exact: the name, or the last segment of a path, is a matter name → that matter;
2. exact: a category name → that category only (the rows train the category head, not a matter);
3. fuzzy: ``difflib`` ratio ≥ ``FUZZY_MIN`` against matter names and keywords (last path segment, then
   the whole name) → that matter; against category names → that category;
4. otherwise unmapped: listed in the review file (``write_review``) with the number of rows, the three
   nearest catalogue names and an example text, for a person to map by hand (a ``mapping.csv`` with
   ``name,code`` passed as ``manual`` wins over everything above).
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from callcenter.catalogue import Catalogue

if TYPE_CHECKING:
    from callcenter.plugins.classifier.training import ImportedSample

MAX_TEXT_CHARS = 20_000
FUZZY_MIN = 0.75
#: Accepted header names per column (lower-case compare for the English ones).
COLUMNS: dict[str, tuple[str, ...]] = {
    "text": (
        "text",
        "content",
        "诉求内容",
        "工单内容",
        "来电内容",
        "留言内容",
        "留言详情",
        "内容",
        "问题描述",
    ),
    "category": ("category", "分类", "类别", "工单分类", "事项分类", "诉求分类", "业务分类", "一级分类"),
    "subject": ("subject", "title", "标题", "主题", "留言主题"),
    "unit": ("unit", "承办单位", "处理单位", "办理单位"),
    "place": ("place", "address", "地址", "发生地点", "事发地址"),
}
REQUIRED = ("text", "category")
_SPLIT = re.compile(r"\s*[/／>＞\\|-]\s*")


class ImportFileError(ValueError):
    """The file cannot be imported at all (unknown format, no header, missing columns)."""


@dataclass(frozen=True)
class OrderRow:
    line: int
    text: str
    category_name: str
    subject: str = ""
    unit: str = ""
    place: str = ""


@dataclass(frozen=True)
class ImportIssue:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class Mapping:
    """Where one center category name goes: ``matter_code`` (and its category) or only ``category_code``;
    ``how`` is exact / category / fuzzy / manual / unmapped."""

    name: str
    how: str
    matter_code: str | None = None
    category_code: str | None = None
    score: float = 1.0
    candidates: tuple[str, ...] = ()


@dataclass
class ImportResult:
    rows: list[OrderRow] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)
    lines: int = 0


def _header_index(header: list[str]) -> dict[str, int]:
    names = [str(h or "").strip().lstrip("\ufeff") for h in header]
    index: dict[str, int] = {}
    for col, aliases in COLUMNS.items():
        for i, name in enumerate(names):
            if name.lower() in aliases or name in aliases:
                index.setdefault(col, i)
    missing = [c for c in REQUIRED if c not in index]
    if missing:
        raise ImportFileError(
            f"line 1: missing column(s) {', '.join(missing)}; the header has {names}; accepted names: "
            + "; ".join(f"{c}: {'/'.join(COLUMNS[c])}" for c in missing)
        )
    return index


def _row(line: int, values: Sequence[object], index: dict[str, int]) -> OrderRow | ImportIssue:
    def get(col: str) -> str:
        i = index.get(col)
        if i is None or i >= len(values) or values[i] is None:
            return ""
        return str(values[i]).strip()

    text, category = get("text"), get("category")
    subject = get("subject")
    if not text and not subject:
        return ImportIssue(line, "empty text (row skipped)")
    if len(text) + len(subject) > MAX_TEXT_CHARS:
        return ImportIssue(
            line, f"text of {len(text) + len(subject):,} characters, over {MAX_TEXT_CHARS:,} (row skipped)"
        )
    if not category:
        return ImportIssue(line, "no category (row skipped)")
    return OrderRow(line, text, category, subject, get("unit"), get("place"))


def _csv_records(path: Path, encoding: str) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """(line, values, error) per physical CSV record; a record with bytes invalid in ``encoding`` is an
    error of that line only."""
    with open(path, "rb") as fh:
        line_no = 0
        for raw in fh:
            line_no += 1
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                hint = " (the file looks like GBK: pass --encoding gbk)" if encoding.startswith("utf") else ""
                yield line_no, None, f"not valid {encoding} at byte {exc.start}{hint} (row skipped)"
                continue
            if line_no == 1:
                line = line.lstrip("\ufeff")
            start = line_no
            # a quoted field may span lines: read on until the record is complete
            while line.count('"') % 2 == 1:
                more = fh.readline()
                if not more:
                    break
                line_no += 1
                try:
                    line += more.decode(encoding)
                except UnicodeDecodeError:
                    yield start, None, f"not valid {encoding} (row skipped)"
                    line = ""
                    break
            if not line.strip():
                continue
            try:
                values = next(csv.reader(io.StringIO(line)))
            except (csv.Error, StopIteration) as exc:
                yield start, None, f"unreadable CSV record: {exc} (row skipped)"
                continue
            yield start, values, None


def _xlsx_records(path: Path) -> Iterator[tuple[int, list[str] | None, str | None]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise ImportFileError(f"{path}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from exc
    try:
        sheet = book.worksheets[0]
        for n, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            values = ["" if v is None else str(v) for v in row]
            if any(v.strip() for v in values):
                yield n, values, None
    finally:
        book.close()


def read_orders(path: Path | str, encoding: str = "utf-8") -> Iterator[OrderRow | ImportIssue]:
    """Rows and issues of a CSV / XLSX export, in file order (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise ImportFileError(f"{path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        records = _xlsx_records(path)
    elif suffix in (".csv", ".txt", ".tsv"):
        records = _csv_records(path, encoding)
    else:
        raise ImportFileError(f"{path}: unknown format {suffix!r} (CSV or XLSX)")
    index: dict[str, int] | None = None
    for line, values, error in records:
        if index is None:
            if values is None:
                raise ImportFileError(f"line {line}: the header row is unreadable: {error}")
            index = _header_index(values)
            continue
        if values is None:
            yield ImportIssue(line, error or "unreadable")
            continue
        yield _row(line, values, index)
    if index is None:
        raise ImportFileError(f"{path}: empty file (no header row)")


def load_orders(path: Path | str, encoding: str = "utf-8") -> ImportResult:
    result = ImportResult()
    for item in read_orders(path, encoding):
        result.lines += 1
        if isinstance(item, ImportIssue):
            result.issues.append(item)
        else:
            result.rows.append(item)
    return result


def _norm(name: str) -> str:
    return re.sub(r"[\s（）()【】\[\]“”\"'：:，,。]", "", name)


def map_categories(
    names: Counter[str], catalogue: Catalogue, manual: dict[str, str] | None = None
) -> dict[str, Mapping]:
    """Mapping of each distinct center category name (see the module docstring)."""
    matter_by_name: dict[str, str] = {}
    for m in catalogue.matters.values():
        matter_by_name.setdefault(_norm(m.name), m.code)
    for m in catalogue.matters.values():
        for k in m.keywords:
            matter_by_name.setdefault(_norm(k), m.code)
    category_by_name = {_norm(c.name): c.code for c in catalogue.categories.values()}
    matter_names = list(matter_by_name)
    category_names = list(category_by_name)
    out: dict[str, Mapping] = {}
    for name in names:
        code = (manual or {}).get(name)
        if code:
            if code in catalogue.matters:
                out[name] = Mapping(name, "manual", code, catalogue.matters[code].category_code)
                continue
            if code in catalogue.categories:
                out[name] = Mapping(name, "manual", None, code)
                continue
        parts = [p for p in _SPLIT.split(name) if p]
        keys = [_norm(p) for p in reversed(parts)] + [_norm(name)]
        mapping: Mapping | None = None
        for key in keys:
            if key in matter_by_name:
                c = matter_by_name[key]
                mapping = Mapping(name, "exact", c, catalogue.matters[c].category_code)
                break
        if mapping is None:
            for key in keys:
                if key in category_by_name:
                    mapping = Mapping(name, "category", None, category_by_name[key])
                    break
        if mapping is None:
            for key in keys[:1] + keys[-1:]:
                close = difflib.get_close_matches(key, matter_names, n=1, cutoff=FUZZY_MIN)
                if close:
                    c = matter_by_name[close[0]]
                    ratio = difflib.SequenceMatcher(None, key, close[0]).ratio()
                    mapping = Mapping(name, "fuzzy", c, catalogue.matters[c].category_code, round(ratio, 3))
                    break
                close = difflib.get_close_matches(key, category_names, n=1, cutoff=FUZZY_MIN)
                if close:
                    ratio = difflib.SequenceMatcher(None, key, close[0]).ratio()
                    mapping = Mapping(name, "fuzzy", None, category_by_name[close[0]], round(ratio, 3))
                    break
        if mapping is None:
            key = keys[0]
            candidates = difflib.get_close_matches(key, matter_names + category_names, n=3, cutoff=0.0)
            mapping = Mapping(name, "unmapped", None, None, 0.0, tuple(candidates))
        out[name] = mapping
    return out


def write_review(
    path: Path | str,
    mappings: dict[str, Mapping],
    counts: Counter[str],
    examples: dict[str, str],
    catalogue: Catalogue,
) -> int:
    """The review file (待人工确认): every name that was not mapped exactly, with its row count, what it
    was mapped to (fuzzy / category only / nothing), the nearest catalogue names and an example text.
    Fill in ``code`` and pass the file back as ``--mapping``. Returns the number of names written."""
    rows = [m for m in mappings.values() if m.how in ("fuzzy", "unmapped", "category")]
    rows.sort(key=lambda m: (m.how != "unmapped", -counts[m.name]))
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "code", "how", "mapped_to", "score", "rows", "candidates", "example"])
        for m in rows:
            target = ""
            if m.matter_code:
                target = f"{m.matter_code} {catalogue.matters[m.matter_code].name}"
            elif m.category_code:
                target = f"{m.category_code} {catalogue.categories[m.category_code].name}"
            w.writerow(
                [
                    m.name,
                    "" if m.how == "unmapped" else (m.matter_code or m.category_code or ""),
                    m.how,
                    target,
                    m.score,
                    counts[m.name],
                    " | ".join(m.candidates),
                    examples.get(m.name, "")[:120],
                ]
            )
    return len(rows)


def read_manual_mapping(path: Path | str) -> dict[str, str]:
    """``name,code`` rows (the review file with ``code`` filled in); empty codes are ignored."""
    out: dict[str, str] = {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            name, code = (row.get("name") or "").strip(), (row.get("code") or "").strip()
            if name and code:
                out[name] = code
    return out


IMPORTS_DIR = "imports"


def to_samples(rows: list[OrderRow], mappings: dict[str, Mapping]) -> list[ImportedSample]:
    """The mapped rows as training samples (subject and text joined); unmapped rows are left out."""
    from callcenter.plugins.classifier.training import ImportedSample

    out = []
    for row in rows:
        m = mappings.get(row.category_name)
        if m is None or m.category_code is None:
            continue
        text = f"{row.subject}。{row.text}" if row.subject and row.text else (row.text or row.subject)
        out.append(ImportedSample(text, m.category_code, m.matter_code))
    return out


def store(models_dir: Path | str, name: str, samples: list[ImportedSample]) -> Path:
    """Keep the mapped rows under ``<models_dir>/imports/`` so that later trainings (agent corrections,
    ``callcenter train``) keep learning from them; written to a temp file and renamed (all or nothing)."""
    import json
    import os

    folder = Path(models_dir) / IMPORTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jsonl"
    tmp = folder / f".{name}.jsonl.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        for s in samples:
            fh.write(
                json.dumps(
                    {"text": s.text, "category": s.category_code, "matter": s.matter_code}, ensure_ascii=False
                )
                + "\n"
            )
    os.replace(tmp, path)
    return path


def load_stored(models_dir: Path | str) -> list[ImportedSample]:
    """All rows kept by earlier imports (``store``)."""
    import json

    from callcenter.plugins.classifier.training import ImportedSample

    folder = Path(models_dir) / IMPORTS_DIR
    out: list[ImportedSample] = []
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    r = json.loads(line)
                    out.append(ImportedSample(r["text"], r["category"], r.get("matter")))
    return out


def holdout_scores(suggester: object, holdout: list[ImportedSample]) -> dict[str, float | int]:
    """Category top-1 (and matter top-1 where the row has a matter) of a suggester on the held-out slice."""
    results = suggester.suggest_many([s.text for s in holdout])  # type: ignore[attr-defined]
    cat_ok = matter_ok = matter_n = 0
    for s, r in zip(holdout, results, strict=True):
        first = (
            r.category_ranking[0][0] if r.category_ranking else (r.matters[0].code[:2] if r.matters else None)
        )
        cat_ok += first == s.category_code
        if s.matter_code:
            matter_n += 1
            matter_ok += bool(r.matters) and r.matters[0].code == s.matter_code
    n = max(len(holdout), 1)
    return {
        "n": len(holdout),
        "category_top1": round(cat_ok / n, 4),
        "matter_n": matter_n,
        "matter_top1": round(matter_ok / max(matter_n, 1), 4),
    }
