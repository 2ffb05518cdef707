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
    ) -> None:
        """Train the matter suggester (训练): generated corpus + agent confirmations → versioned model."""
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
        counts = dict(DEFAULT_PER_MATTER, train=per_matter)
        info = train(
            output, rows, progress=not quiet, per_matter=counts, seed=seed, activate=activate, keep=keep
        )
        if rows:
            mark_feedback_used([int(r["id"]) for r in rows], info.version, database_url)
        m = info.metrics
        typer.echo(
            f"model {info.version} at {info.path}: top1 {m['top1']:.3f}, top3 {m['top3']:.3f}, "
            f"macro-F1 {m['macro_f1']:.3f} on {m['n']} held-out texts; feedback rows {len(rows)}; "
            f"{info.timings['total_s']:.0f} s" + (" (active)" if activate else "")
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
