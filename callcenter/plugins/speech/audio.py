"""Audio helpers: PCM conversion, resampling and reading files (音频读取与重采样)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from callcenter.plugins.speech.engine import AudioFormatError

FloatArray = npt.NDArray[np.float32]


def pcm16_to_float(pcm: bytes) -> FloatArray:
    """16-bit signed little-endian PCM → float32 in [-1, 1]."""
    if len(pcm) % 2:
        raise AudioFormatError(f"16-bit PCM must have an even number of bytes, got {len(pcm)}")
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm16(samples: npt.NDArray[np.floating]) -> bytes:
    """float in [-1, 1] → 16-bit signed little-endian PCM (clipped)."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 32767 / 32768)
    return (clipped * 32768.0).astype("<i2").tobytes()


def resample(samples: npt.NDArray[np.floating], from_rate: int, to_rate: int) -> FloatArray:
    """Resample a whole buffer with FFmpeg's resampler (libswresample through PyAV, 16-bit in and
    out), the one faster-whisper's ``decode_audio`` and Whisper's own ffmpeg loader use.

    Why not any good band-limited filter: Whisper is sensitive to the resampler at telephone rates.
    With scipy's ``resample_poly`` our decode of the five shared 8 kHz clips scored 15.7 % CER where
    plain faster-whisper (which reads files through PyAV) scored 9.6 %; the same decode on
    swresample's output scores 9.6 % (docs/benchmarks.md, "Decoding path side by side")."""
    if from_rate == to_rate:
        return np.asarray(samples, dtype=np.float32)
    if from_rate <= 0 or to_rate <= 0:
        raise AudioFormatError(f"invalid sample rates {from_rate} -> {to_rate}")
    data = np.asarray(samples, dtype=np.float32)
    if data.size == 0:
        return np.zeros(0, dtype=np.float32)
    import av

    pcm = (np.clip(data, -1.0, 32767 / 32768) * 32768.0).astype(np.int16)
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = from_rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=to_rate)
    parts = [f.to_ndarray().reshape(-1) for f in (*resampler.resample(frame), *resampler.resample(None))]
    out = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
    return np.asarray(out, dtype=np.float32) / 32768.0


def read_audio(path: Path | str) -> tuple[FloatArray, int]:
    """Read an audio file as mono float32 and its sample rate.

    Raises :class:`AudioFormatError` naming the file when it is not readable audio.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise AudioFormatError(f"{path}: no such file")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioFormatError(f"{path}: not a readable audio file ({exc})") from exc
    if rate <= 0:
        raise AudioFormatError(f"{path}: invalid sample rate {rate}")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(mono, dtype=np.float32), int(rate)


def read_audio_pcm16(path: Path | str, rates: tuple[int, ...] = (8000, 16000)) -> tuple[bytes, int]:
    """Read a file as 16-bit PCM at its own rate if in ``rates``, else resampled to 16 kHz."""
    samples, rate = read_audio(path)
    if rate not in rates:
        samples, rate = resample(samples, rate, 16000), 16000
    return float_to_pcm16(samples), rate
