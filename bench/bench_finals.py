"""Whisper finals per CPU-second (最终识别吞吐) and single-stream final latency, side by side.

    .venv/bin/python bench/bench_finals.py              # every variant, 3 rounds (about 10 minutes)
    .venv/bin/python bench/bench_finals.py --rounds 1 --variants today,greedy

The utterances are what the service decodes: the five shared 8 kHz Mandarin clips cut by the service's
own VAD (``UtteranceSegmenter``), resampled to 16 kHz. Each variant decodes every utterance
``--rounds`` times; figures are process CPU seconds per final (all threads), wall seconds per final,
and the corpus CER of the texts against the references (after t2s and punctuation removal).

Variants (Whisper base, CTranslate2 int8 on the CPU):

* ``today``: the service's path — ``WhisperEngine.decode_pcm`` (``model.transcribe``, beam 5, the
  engine's options), 2 decoding threads × 1 CTranslate2 thread (``num_workers`` 2).
* ``today-1x2``: the same decode, one thread at a time with 2 CTranslate2 threads (thread layout).
* ``greedy``: as ``today`` with beam 1 (the final queue's cheap decode).
* ``batch-N``: N utterances (of different calls) in one ``encode`` + ``generate`` call
  (:func:`callcenter.plugins.speech.whisper_engine.decode_batch`), beam 5, 2 CTranslate2 threads.
* ``window-S``: one utterance per call, the encoder window cut to S seconds instead of 30 (only if
  CTranslate2 accepts it; the row says so when it does not).

Speed targets are here, never in timed tests; the machine is shared and noisy, so compare the ratios
of one run.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("CALLCENTER_MODE", "demo")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callcenter.plugins.speech.audio import pcm16_to_float, read_audio_pcm16, resample  # noqa: E402
from callcenter.plugins.speech.engine import Result  # noqa: E402
from callcenter.plugins.speech.text import corpus_cer  # noqa: E402
from callcenter.plugins.speech.vad import Utterance, UtteranceSegmenter  # noqa: E402
from callcenter.plugins.speech.whisper_engine import WHISPER_RATE, WhisperEngine  # noqa: E402

SPEECH = ROOT.parent / "shared" / "data" / "speech"


def manifest() -> dict[str, str]:
    with open(SPEECH / "manifest.tsv", encoding="utf-8") as fh:
        return {row["file"]: row["reference_text"] for row in csv.DictReader(fh, delimiter="\t")}


def utterances() -> list[tuple[str, Utterance]]:
    out: list[tuple[str, Utterance]] = []
    for name in sorted(manifest()):
        pcm, rate = read_audio_pcm16(SPEECH / "8k" / name)
        seg = UtteranceSegmenter(rate)
        utts = seg.feed(pcm + bytes(rate * 2 * 2)) + seg.flush()  # + 2 s of silence, as a caller ends
        out.extend((name, u) for u in utts)
    return out


def to16k(u: Utterance) -> Any:
    return resample(pcm16_to_float(u.pcm), u.sample_rate, WHISPER_RATE)


def run_variant(
    name: str,
    decode_many: Callable[[list[tuple[str, Utterance]]], list[Result | None]],
    utts: list[tuple[str, Utterance]],
    rounds: int,
    refs: dict[str, str],
) -> dict[str, Any]:
    texts: dict[str, str] = {}
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        results = decode_many(utts)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    by_clip: dict[str, list[str]] = {}
    for (clip, _u), r in zip(utts, results, strict=True):
        by_clip.setdefault(clip, []).append(r.text if r else "")
    texts = {clip: "".join(parts) for clip, parts in by_clip.items()}
    n = len(utts) * rounds
    cer = corpus_cer([(refs[c], texts[c]) for c in sorted(texts)])
    return {"variant": name, "finals": n, "cpu_per_final": cpu / n, "wall_per_final": wall / n, "cer": cer}


def threaded(
    engine: WhisperEngine, threads: int
) -> Callable[[list[tuple[str, Utterance]]], list[Result | None]]:
    def decode_many(utts: list[tuple[str, Utterance]]) -> list[Result | None]:
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(lambda cu: engine.decode_pcm(cu[1].pcm, 8000, cu[1].start_s), utts))

    return decode_many


def batched(
    engine: WhisperEngine, size: int, window: float | None = 30.0, threads: int = 1
) -> Callable[..., list[Result | None]]:
    """``size`` utterances per call; ``window`` None = the service's window (``encoder_window_s``);
    ``threads`` calls at a time (the service runs one per final worker)."""
    from callcenter.plugins.speech.service import encoder_window_s
    from callcenter.plugins.speech.whisper_engine import decode_batch

    def one(chunk: list[tuple[str, Utterance]]) -> list[Result | None]:
        samples = [to16k(u) for _c, u in chunk]
        w = (
            window
            if window is not None
            else encoder_window_s(max(x.size for x in samples) / WHISPER_RATE, 10.0)
        )
        return decode_batch(engine, samples, [u.start_s for _c, u in chunk], window_s=w)

    def decode_many(utts: list[tuple[str, Utterance]]) -> list[Result | None]:
        chunks = [utts[i : i + size] for i in range(0, len(utts), size)]
        with ThreadPoolExecutor(threads) as pool:
            return [r for part in pool.map(one, chunks) for r in part]

    return decode_many


def latency(engine: WhisperEngine, utts: Sequence[tuple[str, Utterance]]) -> list[float]:
    """One stream, nothing else queued: the time of the final decode of each utterance."""
    times = []
    for _c, u in utts:
        t0 = time.perf_counter()
        engine.decode_pcm(u.pcm, 8000, u.start_s)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--variants",
        default="today,today-1x2,greedy,batch-4,batch-8,window-10,batch-8-window-10,auto,batch-4-auto",
    )
    args = parser.parse_args()
    from faster_whisper import WhisperModel

    from callcenter.plugins.speech.models import ensure_whisper_base
    from callcenter.plugins.speech.whisper_engine import WhisperOptions

    path = ensure_whisper_base()
    refs = manifest()
    utts = utterances()
    speech_s = sum(len(u.pcm) / 2 / u.sample_rate for _c, u in utts)
    print(
        f"{len(utts)} utterances, {speech_s:.1f} s of speech (mean {speech_s / len(utts):.1f} s); "
        f"{os.cpu_count()} cores; rounds {args.rounds}; threads now {threading.active_count()}"
    )
    two_workers = WhisperEngine(path, cpu_threads=1, num_workers=2)
    two_threads = WhisperEngine(path, cpu_threads=2, num_workers=1)
    assert isinstance(two_workers.model, WhisperModel)
    rows = []
    for variant in args.variants.split(","):
        if variant == "today":
            fn = threaded(two_workers, 2)
        elif variant == "today-1x2":
            fn = threaded(two_threads, 1)
        elif variant == "greedy":
            greedy = two_workers.with_options(
                WhisperOptions(**{**two_workers.options.__dict__, "beam_size": 1})
            )
            fn = threaded(greedy, 2)
        elif variant in ("auto", "batch-4-auto"):  # the service: window cut to the longest utterance
            fn = batched(two_workers, 4 if variant.startswith("batch") else 1, window=None, threads=2)
        elif variant.startswith("batch-") or variant.startswith("window-"):
            parts = variant.split("-")
            size = int(parts[1]) if parts[0] == "batch" else 1
            window = float(parts[-1]) if "window" in variant else 30.0
            fn = batched(two_threads, size, window)
        else:
            raise SystemExit(f"unknown variant {variant}")
        try:
            row = run_variant(variant, fn, utts, args.rounds, refs)
        except Exception as exc:  # e.g. CTranslate2 refusing a short encoder window
            print(f"{variant:22s} not possible: {exc}")
            continue
        rows.append(row)
        base = rows[0]["cpu_per_final"]
        print(
            f"{variant:22s} CPU-s/final {row['cpu_per_final']:5.2f}"
            f" ({base / row['cpu_per_final']:4.2f}× today)"
            f"  finals/CPU-s {1 / row['cpu_per_final']:5.2f}  wall-s/final {row['wall_per_final']:5.2f}"
            f"  CER {row['cer']:.3f}",
            flush=True,
        )
    lat = sorted(latency(two_threads, utts))
    p50, p95 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(0.95 * len(lat)))]
    print(
        f"single stream final decode (2 CT2 threads, idle queue): p50 {p50:.2f} s"
        f"  p95 {p95:.2f} s  max {lat[-1]:.2f} s"
    )
    lat1 = sorted(latency(two_workers, utts))
    p50, p95 = lat1[len(lat1) // 2], lat1[min(len(lat1) - 1, int(0.95 * len(lat1)))]
    print(
        f"single stream final decode (1 CT2 thread, today):    p50 {p50:.2f} s"
        f"  p95 {p95:.2f} s  max {lat1[-1]:.2f} s"
    )


if __name__ == "__main__":
    main()
