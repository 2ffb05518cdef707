"""Support for browser-softphone tests and the set-up bench: Chromium with a fake microphone fed by a
real Mandarin clip, a simulated citizen who talks (``[sim-talker]``), and an audio check that tells
whether a given clip is in a recording (energy-envelope cross-correlation, robust to G.711, Opus,
resampling and delay).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
import wave
from pathlib import Path
from typing import Any

import numpy as np

SPEECH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "speech"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium_args(capture_wav: Path) -> list[str]:
    """Chromium flags: fake media devices whose microphone plays ``capture_wav`` in a loop, no
    permission prompt, the self-signed WSS certificate accepted, real host ICE candidates."""
    return [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={capture_wav}",
        "--use-fake-ui-for-media-stream",
        "--ignore-certificate-errors",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
    ]


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono float samples and rate of a 16-bit PCM WAV (any other format goes through ffmpeg)."""
    try:
        with wave.open(str(path)) as w:
            if w.getsampwidth() == 2:
                data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32)
                ch = w.getnchannels()
                if ch > 1:
                    data = data.reshape(-1, ch).mean(axis=1)
                return data / 32768.0, w.getframerate()
    except (wave.Error, EOFError):
        pass
    return decode(path.read_bytes())


def decode(blob: bytes, rate: int = 8000) -> tuple[np.ndarray, int]:
    """Any audio container (WebM/Opus from MediaRecorder, WAV) -> mono float samples at ``rate``."""
    res = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "pipe:0", "-ac", "1", "-ar", str(rate), "-f", "s16le", "pipe:1"],
        input=blob,
        capture_output=True,
        check=True,
    )
    return np.frombuffer(res.stdout, dtype="<i2").astype(np.float32) / 32768.0, rate


def envelope(samples: np.ndarray, rate: int, frame_s: float = 0.02) -> np.ndarray:
    """Log-energy per 20 ms frame."""
    n = max(1, int(rate * frame_s))
    frames = samples[: len(samples) // n * n].reshape(-1, n)
    return np.log10((frames**2).mean(axis=1) + 1e-7)


def clip_score(recording: np.ndarray, rate: int, clip: Path) -> float:
    """How well ``clip`` matches somewhere in ``recording``: the best normalised correlation of their
    energy envelopes over every delay (1.0 = identical shape; unrelated speech stays well below)."""
    rec = envelope(recording, rate)
    ref_s, ref_rate = read_wav(clip)
    ref = envelope(ref_s, ref_rate)
    if len(rec) < len(ref) // 2 or len(ref) < 10:
        return 0.0
    ref = (ref - ref.mean()) / (ref.std() + 1e-9)
    best = -1.0
    m = len(ref)
    padded = np.concatenate([rec, np.full(m, rec.min())])
    for lag in range(0, max(1, len(rec) - m // 2)):
        win = padded[lag : lag + m]
        sd = win.std()
        if sd < 1e-6:
            continue
        score = float(((win - win.mean()) / sd * ref).mean())
        best = max(best, score)
    return best


def tone_ratio(samples: np.ndarray, rate: int, freq: float) -> float:
    """Strength of a pure tone (e.g. the 440 Hz hold music) against the spectrum around it: the power
    at ``freq`` over the median power of 300-700 Hz. Speech gives ~1-3, a steady sine far more."""
    spec = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) ** 2
    bins = np.fft.rfftfreq(len(samples), 1 / rate)
    peak = spec[np.abs(bins - freq) < 3].max()
    band = spec[(bins > 300) & (bins < 700)]
    return float(peak / (np.median(band) + 1e-12))


def rms_db(samples: np.ndarray) -> float:
    return float(10 * np.log10((samples**2).mean() + 1e-12))


#: Page script: record the softphone's remote audio (what the agent hears) with MediaRecorder.
RECORDER_JS = """
() => {
  const audio = document.getElementById('sp-audio');
  window.__spRec = { chunks: [], done: null };
  const start = () => {
    const stream = audio.srcObject;
    if (!stream || !stream.getAudioTracks().length) { setTimeout(start, 50); return; }
    const rec = new MediaRecorder(stream, { mimeType: 'audio/webm;codecs=opus' });
    rec.ondataavailable = (e) => { if (e.data.size) window.__spRec.chunks.push(e.data); };
    rec.start(250);
    window.__spRec.rec = rec;
  };
  start();
}
"""

STOP_RECORDER_JS = """
async () => {
  const r = window.__spRec;
  if (!r || !r.rec) return '';
  await new Promise((ok) => { r.rec.onstop = ok; r.rec.stop(); });
  const blob = new Blob(r.chunks, { type: 'audio/webm' });
  const buf = new Uint8Array(await blob.arrayBuffer());
  let s = '';
  for (let i = 0; i < buf.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, buf.subarray(i, i + 0x8000));
  }
  return btoa(s);
}
"""


def stop_recorder(page: Any) -> bytes:
    return base64.b64decode(page.evaluate(STOP_RECORDER_JS) or "")


def place_talker_call(
    redis: Any,
    *,
    audio_sound: str,
    heard_path: str = "",
    keys: str = "1",
    hold_s: int = 30,
    delay_s: float = 1.0,
    number: str = "12345",
    caller: str = "13900001234",
    read_keys: int = 0,
    tag: str = "",
) -> tuple[str, str]:
    """Originate a simulated citizen into the hotline whose half runs ``[sim-talker]``. Returns the
    (action id, hotline leg uniqueid)."""
    from callcenter.commands import send_command

    base = f"talk-{uuid.uuid4().hex[:10]}"
    uid = f"{base}-2"  # neither id may be a prefix of the other (Asterisk matches ids by prefix)
    variables = {
        "SIM_AUDIO": audio_sound,
        "SIM_HOLD": str(hold_s),
        "SIM_DELAY": str(delay_s),
        "SIM_KEYS": keys,
    }
    if heard_path:
        variables["SIM_HEARD"] = heard_path
    if read_keys:
        variables["SIM_READ"] = str(read_keys)
        variables["SIM_TAG"] = tag or "X"
    aid = send_command(
        redis,
        "originate",
        channel=f"Local/{number}@hotline",
        context="sim-talker",
        exten="s",
        priority=1,
        caller_id=f'"王五" <{caller}>',
        variables=variables,
        channel_id=f"{base}-1",
        other_channel_id=uid,
        timeout_ms=30000,
    )
    return aid, uid
