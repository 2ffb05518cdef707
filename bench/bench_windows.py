"""Encoder window of the live finals (``speech.final_min_window_s``): CER against decode time.

    .venv/bin/python bench/bench_windows.py                    # windows 10,15,20,30 at 8 kHz
    .venv/bin/python bench/bench_windows.py --windows 10,30 --rate 16k

Every one of the 16 shared clips is cut into utterances by the service's VAD (20 ms frames, as a
call), each utterance decoded with :func:`~callcenter.plugins.speech.whisper_engine.decode_batch` and
the encoder window of :func:`~callcenter.plugins.speech.service.encoder_window_s` (the next 5 s above
the utterance, at least the minimum given). Figures per minimum window: CER on the five referenced
clips; a "silver" CER on the eleven unreferenced clips against plain faster-whisper's text of the
16 kHz file (beam 5, temperature 0; it favours plain's way of decoding, so it is a second opinion on
more text, not a truth); mean and max decode wall time per utterance. Last rows: plain
faster-whisper and our file path on the same clips and the same scores.

Speed targets live here, never in timed tests; compare the rows of one run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("CALLCENTER_MODE", "demo")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_asr import SPEECH, all_clips, manifest  # noqa: E402

from callcenter.plugins.speech.audio import pcm16_to_float, read_audio_pcm16, resample  # noqa: E402
from callcenter.plugins.speech.text import corpus_cer, normalize_transcript  # noqa: E402
from callcenter.plugins.speech.vad import UtteranceSegmenter  # noqa: E402
from callcenter.plugins.speech.whisper_engine import WHISPER_RATE, WhisperEngine, decode_batch  # noqa: E402


def clip_path(folder: str, rate: str, name: str) -> Path:
    return (SPEECH / folder / rate / name) if folder else (SPEECH / rate / name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", default="10,15,20,30")
    parser.add_argument("--rate", default="8k", choices=("8k", "16k"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from faster_whisper import WhisperModel

    from callcenter.plugins.speech.models import ensure_whisper_base
    from callcenter.plugins.speech.service import encoder_window_s

    path = ensure_whisper_base()
    plain = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=args.threads)
    engine = WhisperEngine(path, cpu_threads=args.threads, num_workers=1)
    refs, clips = manifest(), all_clips()

    def plain_text(p: Path, **kw: object) -> str:
        segments, _ = plain.transcribe(str(p), language="zh", beam_size=5, **kw)
        return normalize_transcript("".join(s.text for s in segments))

    reference = {
        name: refs[name] if not folder else plain_text(clip_path(folder, "16k", name), temperature=0)
        for folder, name, _d in clips
    }
    silver_chars = sum(len(reference[n]) for f, n, _d in clips if f)
    print(
        f"{len(clips)} clips at {args.rate}; {args.threads} CTranslate2 threads;"
        f" load {os.getloadavg()[0]:.1f}; silver reference {silver_chars} characters"
    )
    utts = {}
    for folder, name, _d in clips:
        pcm, rate = read_audio_pcm16(clip_path(folder, args.rate, name))
        seg = UtteranceSegmenter(rate)
        found = []
        for i in range(0, len(pcm), 2 * rate // 50):
            found.extend(seg.feed(pcm[i : i + 2 * rate // 50]))
        found.extend(seg.feed(bytes(rate * 4)) + seg.flush())
        utts[(folder, name)] = found

    def score(texts: dict[tuple[str, str], str]) -> tuple[float, float]:
        gold = [(reference[n], t) for (f, n), t in texts.items() if not f]
        silver = [(reference[n], t) for (f, n), t in texts.items() if f]
        return corpus_cer(gold), corpus_cer(silver)

    first = next(iter(utts.values()))[0]  # warm the model up, so that the first row pays no load cost
    decode_batch(engine, [resample(pcm16_to_float(first.pcm), first.sample_rate, WHISPER_RATE)], [0.0])
    print(f"  {'min window':28s} CER(5)  silver CER(11)  decode s/utterance mean / max")
    for w in (float(x) for x in args.windows.split(",")):
        texts, times = {}, []
        for key, found in utts.items():
            text = ""
            for u in found:
                samples = resample(pcm16_to_float(u.pcm), u.sample_rate, WHISPER_RATE)
                t0 = time.perf_counter()
                result = decode_batch(
                    engine, [samples], [u.start_s], window_s=encoder_window_s(samples.size / WHISPER_RATE, w)
                )[0]
                times.append(time.perf_counter() - t0)
                text += result.text if result else ""
            texts[key] = text
        gold, silver = score(texts)
        print(
            f"  {f'{w:.0f} s':28s} {gold:6.1%}  {silver:14.1%}"
            f"  {sum(times) / len(times):6.2f} / {max(times):5.2f}",
            flush=True,
        )
    for label, run in (
        ("plain faster-whisper (file)", lambda p: plain_text(p)),
        ("ours: file path", lambda p: engine.transcribe_file(p).text),
    ):
        gold, silver = score({(f, n): run(clip_path(f, args.rate, n)) for f, n, _d in clips})
        print(f"  {label:28s} {gold:6.1%}  {silver:14.1%}")


if __name__ == "__main__":
    main()
