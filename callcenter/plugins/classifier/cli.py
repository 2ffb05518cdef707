"""CLI: ``callcenter train``, ``callcenter suggest TEXT --json``, ``callcenter suggest --jsonl FILE``.
Heavy imports stay inside the commands. (``callcenter catalogue-build`` is the kernel's: the catalogue
is kernel data, see :mod:`callcenter.catalogue.build`.)"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Any

import typer

BATCH = 512


def _jsonl_records(stream: IO[bytes]) -> Iterator[tuple[int, Any, Any, str | None]]:
    """(line number, id, text, error reason) for every non-blank line; bad lines carry a reason."""
    from callcenter.plugins.classifier.text import NoSuggestion, decode_utf8

    for n, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            line = decode_utf8(raw)
        except NoSuggestion:
            yield n, _salvage_id(raw), None, "invalid_utf8"
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            yield n, None, None, "invalid_json"
            continue
        if not isinstance(record, dict):
            yield n, None, None, "invalid_json"
            continue
        yield n, record.get("id"), record.get("text"), None


def _salvage_id(raw: bytes) -> Any:
    """The id of a line whose text has invalid UTF-8, when the rest of the line is readable JSON."""
    try:
        record = json.loads(raw.decode("utf-8", errors="replace"))
    except json.JSONDecodeError:
        return None
    return record.get("id") if isinstance(record, dict) else None


def _none_dict(reason: str, version: str) -> dict[str, Any]:
    from callcenter.plugins.classifier.suggester import SuggestionResult

    messages = {"invalid_json": "不是 JSON 对象 (line is not a JSON object with id and text)"}
    return SuggestionResult.none(reason, messages.get(reason), version).to_dict()


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_cmd(
        output: Annotated[
            Path | None, typer.Option(help="Models folder (default <classifier.model_dir>/models)")
        ] = None,
        feedback: Annotated[bool, typer.Option(help="Use agent feedback from the database")] = True,
        database_url: Annotated[str | None, typer.Option(help="Database with suggestion_feedback")] = None,
        per_matter: Annotated[int, typer.Option(help="Generated training texts per matter")] = 40,
        seed: Annotated[int, typer.Option()] = 12345,
        activate: Annotated[bool, typer.Option(help="Switch the `current` pointer to the new model")] = True,
        keep: Annotated[
            int, typer.Option(help="Model versions to keep (the current one is always kept)")
        ] = 5,
        quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
        if_needed: Annotated[
            bool, typer.Option("--if-needed", help="Train only when the current model is missing or stale")
        ] = False,
        import_file: Annotated[
            Path | None,
            typer.Option(
                "--import", help="Historical work orders (CSV / XLSX: text, category[, unit, place])"
            ),
        ] = None,
        encoding: Annotated[str, typer.Option(help="Encoding of a CSV import (utf-8, gbk …)")] = "utf-8",
        mapping: Annotated[
            Path | None, typer.Option(help="Hand mapping name,code (the review file with codes filled in)")
        ] = None,
        review: Annotated[
            Path | None, typer.Option(help="Where to write the review file (default FILE.review.csv)")
        ] = None,
    ) -> None:
        """Train the matter suggester (训练): generated corpus + agent confirmations → versioned model.

        With ``--import FILE``: historical work orders mapped onto the catalogue are trained on too; the
        new model is activated only when it scores at least as well as the current one on a slice of the
        import it did not train on (both figures printed)."""
        if import_file is not None:
            _train_import(
                import_file, encoding, mapping, review, output, per_matter, seed, keep, quiet, activate
            )
            return
        from callcenter.plugins.classifier.training import (
            DEFAULT_PER_MATTER,
            default_models_dir,
            load_feedback,
            mark_feedback_used,
            train,
            why_retrain,
        )

        if if_needed:
            why = why_retrain(output or default_models_dir())
            if why is None:
                typer.echo("the current model is usable; not retrained")
                return
            typer.echo(f"training: {why}")

        rows: list[dict[str, Any]] = []
        if feedback:
            try:
                rows = load_feedback(database_url)
            except Exception as exc:
                first_line = (str(exc).splitlines() or [""])[0]
                typer.echo(
                    f"warning: feedback not read ({type(exc).__name__}: {first_line}); training without it",
                    err=True,
                )
        from callcenter.plugins.classifier.importer import load_stored

        counts = dict(DEFAULT_PER_MATTER, train=per_matter)
        info = train(
            output,
            rows,
            progress=not quiet,
            per_matter=counts,
            seed=seed,
            activate=activate,
            keep=keep,
            imported=load_stored(output or default_models_dir()),
        )
        if rows:
            mark_feedback_used([int(r["id"]) for r in rows], info.version, database_url)
        m = info.metrics
        cit = m.get("citizen_heldout")
        typer.echo(
            f"model {info.version} at {info.path}: top1 {m['top1']:.3f}, top3 {m['top3']:.3f}, "
            f"macro-F1 {m['macro_f1']:.3f} on {m['n']} held-out texts; "
            + (
                f"citizen messages held out: category top-1 {cit['category_top1']:.3f}, "
                f"top-3 {cit['category_top3']:.3f} (n={cit['n']}); "
                if cit
                else ""
            )
            + f"feedback rows {len(rows)}; {info.timings['total_s']:.0f} s"
            + (" (active)" if activate else "")
        )

    @app.command("suggest")
    def suggest_cmd(
        text: Annotated[str | None, typer.Argument(help="Text to classify")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
        jsonl: Annotated[
            Path | None, typer.Option("--jsonl", help='File of {"id","text"} lines ("-" = stdin); JSONL out')
        ] = None,
        model_dir: Annotated[Path | None, typer.Option(help="Models folder or one version folder")] = None,
    ) -> None:
        """Suggest matter, place and owning unit (智能建议) for TEXT or for each line of --jsonl FILE."""
        from callcenter.plugins.classifier.suggester import ModelNotFound, Suggester

        if (text is None) == (jsonl is None):
            raise typer.BadParameter("give either TEXT or --jsonl FILE")
        try:
            suggester = Suggester.load(model_dir)
        except ModelNotFound as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        if jsonl is None:
            result = suggester.suggest(text).to_dict()
            if as_json:
                typer.echo(json.dumps(result, ensure_ascii=False))
            else:
                _print_human(result)
            raise typer.Exit(0 if result["no_suggestion_reason"] is None else 1)
        stream: IO[bytes]
        if str(jsonl) == "-":
            stream = sys.stdin.buffer
        else:
            if not jsonl.exists():
                raise typer.BadParameter(f"{jsonl} does not exist")
            stream = open(jsonl, "rb")  # noqa: SIM115 - closed below
        out = sys.stdout
        try:
            batch: list[tuple[int, Any, Any, str | None]] = []
            for record in _jsonl_records(stream):
                batch.append(record)
                if len(batch) >= BATCH:
                    _flush(batch, suggester, out)
                    batch = []
            _flush(batch, suggester, out)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()


def _train_import(
    path: Path,
    encoding: str,
    mapping_file: Path | None,
    review: Path | None,
    output: Path | None,
    per_matter: int,
    seed: int,
    keep: int,
    quiet: bool,
    activate: bool,
) -> None:
    """``train --import``: read, map, review file, train, gate on the held-out slice, activate."""
    from collections import Counter
    from datetime import UTC, datetime

    from callcenter.catalogue import load_catalogue
    from callcenter.plugins.classifier.importer import (
        ImportFileError,
        ImportIssue,
        holdout_scores,
        load_stored,
        map_categories,
        read_manual_mapping,
        read_orders,
        store,
        to_samples,
        write_review,
    )
    from callcenter.plugins.classifier.suggester import Suggester
    from callcenter.plugins.classifier.training import (
        DEFAULT_PER_MATTER,
        current_version,
        default_models_dir,
        load_feedback,
        prune_versions,
        set_current,
        split_imported,
        train,
    )

    catalogue = load_catalogue()
    models_dir = output or default_models_dir()
    rows = []
    issues: list[ImportIssue] = []
    try:
        for item in read_orders(path, encoding):
            if isinstance(item, ImportIssue):
                issues.append(item)
            else:
                rows.append(item)
    except ImportFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for issue in issues[:20]:
        typer.echo(f"{path}: {issue}", err=True)
    if len(issues) > 20:
        typer.echo(f"{path}: … and {len(issues) - 20} more lines skipped", err=True)
    if not rows:
        typer.echo(f"error: {path}: no usable row ({len(issues)} skipped)", err=True)
        raise typer.Exit(2)
    names = Counter(r.category_name for r in rows)
    examples: dict[str, str] = {}
    for r in rows:
        examples.setdefault(r.category_name, r.text or r.subject)
    manual = read_manual_mapping(mapping_file) if mapping_file else None
    mappings = map_categories(names, catalogue, manual)
    review_path = review or path.with_name(path.name + ".review.csv")
    n_review = write_review(review_path, mappings, names, examples, catalogue)
    by_how: Counter[str] = Counter()
    for name, m in mappings.items():
        by_how[m.how] += names[name]
    samples = to_samples(rows, mappings)
    typer.echo(
        f"{path}: {len(rows)} rows read, {len(issues)} skipped; {len(names)} category names: "
        + ", ".join(f"{how} {n} rows" for how, n in sorted(by_how.items()))
        + f"; review file {review_path} ({n_review} names to check)"
    )
    if not samples:
        typer.echo(
            "error: no row maps onto the catalogue; fill in the review file and pass --mapping", err=True
        )
        raise typer.Exit(2)
    train_rows, holdout = split_imported(samples)
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    feedback_rows: list[dict[str, Any]] = []
    try:
        feedback_rows = load_feedback()
    except Exception:  # no database here: train without agent corrections
        feedback_rows = []
    earlier = load_stored(models_dir)
    info = train(
        models_dir,
        feedback_rows,
        progress=not quiet,
        per_matter=dict(DEFAULT_PER_MATTER, train=per_matter),
        seed=seed,
        activate=False,
        keep=None,
        imported=earlier + train_rows,
    )
    new = holdout_scores(Suggester.load(info.path, catalogue), holdout)
    current = current_version(models_dir)
    old = holdout_scores(Suggester.load(models_dir / current, catalogue), holdout) if current else None
    typer.echo(
        f"held-out slice of the import ({new['n']} rows, never trained on): new model {info.version} "
        f"category top-1 {new['category_top1']:.3f}, matter top-1 {new['matter_top1']:.3f} "
        f"(n={new['matter_n']})"
        + (
            f"; current model {current} category top-1 {old['category_top1']:.3f}, "
            f"matter top-1 {old['matter_top1']:.3f}"
            if old
            else "; no current model"
        )
    )
    store(models_dir, stamp, train_rows)
    if old is not None and (
        new["category_top1"] < old["category_top1"]
        or (new["matter_n"] and new["matter_top1"] < old["matter_top1"])
    ):
        typer.echo(
            f"not activated: the new model scores worse than the current one on the held-out slice; "
            f"{current} stays active (the import is kept in {models_dir}/imports for the next training)",
            err=True,
        )
        raise typer.Exit(3)
    if activate:
        set_current(models_dir, info.version)
        prune_versions(models_dir, keep)
        typer.echo(f"model {info.version} active")


def _flush(batch: list[tuple[int, Any, Any, str | None]], suggester: Any, out: IO[str]) -> None:
    if not batch:
        return
    ok = [(n, rid, text) for n, rid, text, err in batch if err is None]
    results = iter(suggester.suggest_many([text for _, _, text in ok]))
    for n, rid, _text, err in batch:
        data = _none_dict(err, suggester.version) if err else next(results).to_dict()
        out.write(json.dumps({"id": rid, "line": n, **data}, ensure_ascii=False) + "\n")
    out.flush()


def _print_human(result: dict[str, Any]) -> None:
    if result["no_suggestion_reason"]:
        typer.echo(f"no suggestion: {result['message']} [{result['no_suggestion_reason']}]")
        return
    for i, m in enumerate(result["matters"], start=1):
        typer.echo(f"{i}. {m['code']} {m['name']} ({m['category']}) {m['score']:.3f}")
    area = result["area"]
    names = [area[k]["name"] for k in ("district", "street", "community") if area[k]]
    typer.echo(f"area: {' '.join(names) or '-'}   address: {result['place']['address'] or '-'}")
    unit = result["unit"]
    typer.echo(f"unit: {unit['code'] + ' ' + unit['name'] if unit else '-'} ({result['routing']['reason']})")
    typer.echo(f"evidence: {', '.join(result['evidence'])}   auto_dispatch: {result['auto_dispatch']}")
