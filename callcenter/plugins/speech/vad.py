"""Voice activity detection and utterance endpointing (语音端点检测) with WebRTC VAD.

:class:`UtteranceSegmenter` is fed PCM in chunks of any size and classifies 20 ms frames with
``webrtcvad`` behind an energy gate. Speech starts when 3 of 5 consecutive frames are voiced and
ends after ``end_silence_s`` of unvoiced frames, or when an utterance reaches
``max_utterance_s`` (so it fits Whisper's 30 s window). A forced cut is pause-aware: it goes in
the middle of the longest unvoiced stretch of the last ``cut_search_s`` and the audio after it
starts the next utterance, so a long turn without a 0.5 s pause is not cut inside a word.
Each utterance carries its audio with a pre-roll and a tail, and its start/end times from the
start of the stream. The segmenter also keeps the figures the AudioSocket session uses to
decide that the caller has finished speaking.

Pure logic: no I/O.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from callcenter.plugins.speech.engine import AudioFormatError, check_rate


@dataclass(frozen=True)
class VadConfig:
    """Endpointing parameters."""

    aggressiveness: int = 2  # webrtcvad mode 0..3 (3 = most aggressive filtering of non-speech)
    frame_ms: int = 20
    start_window: int = 5  # frames looked at to decide speech started
    start_voiced: int = 3  # of which voiced
    end_silence_s: float = 0.5  # unvoiced time that ends an utterance
    pre_roll_s: float = 0.5  # audio kept before the detected start (Whisper drops first syllables without it)
    tail_s: float = 0.3  # audio kept after the last voiced frame
    max_utterance_s: float = 20.0  # forced cut (Whisper's window is 30 s)
    cut_search_s: float = 4.0  # a forced cut goes in the longest pause of the utterance's last 4 s
    min_rms_dbfs: float = -50.0  # quieter frames are never speech (WebRTC VAD fires on faint line noise)

    def __post_init__(self) -> None:
        if self.aggressiveness not in (0, 1, 2, 3):
            raise ValueError("aggressiveness must be 0..3")
        if self.frame_ms not in (10, 20, 30):
            raise ValueError("frame_ms must be 10, 20 or 30")
        if not 0 < self.start_voiced <= self.start_window:
            raise ValueError("need 0 < start_voiced <= start_window")


@dataclass(frozen=True)
class Utterance:
    """A stretch of speech cut from the stream."""

    pcm: bytes
    sample_rate: int
    start_s: float
    end_s: float
    truncated: bool = False  # cut at max_utterance_s or by end of stream


class UtteranceSegmenter:
    """Cuts a PCM stream into utterances (see module docstring)."""

    def __init__(self, sample_rate: int, config: VadConfig | None = None) -> None:
        import webrtcvad

        self.sample_rate = check_rate(sample_rate)
        self.config = config or VadConfig()
        self._vad = webrtcvad.Vad(self.config.aggressiveness)
        self._frame_bytes = self.sample_rate * self.config.frame_ms // 1000 * 2
        self._frame_s = self.config.frame_ms / 1000
        self._pending = b""
        self._frames_seen = 0
        self._window: deque[tuple[bytes, bool]] = deque(maxlen=self.config.start_window)
        self._pre: deque[bytes] = deque(
            maxlen=self.config.start_window + max(1, round(self.config.pre_roll_s / self._frame_s))
        )
        self._in_speech = False
        self._utt: list[bytes] = []
        self._utt_voiced: list[bool] = []
        self._utt_start_frame = 0
        self._last_voiced_frame = -1
        self._silence_frames = 0
        self._min_rms = 10 ** (self.config.min_rms_dbfs / 20)
        self.speech_s = 0.0  # voiced time inside utterances, whole stream
        self.utterances = 0

    # -- figures -------------------------------------------------------------------------------
    @property
    def total_s(self) -> float:
        """Audio time processed so far."""
        return self._frames_seen * self._frame_s

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def trailing_silence_s(self) -> float:
        """Time since the last voiced frame (the whole stream if none yet)."""
        if self._last_voiced_frame < 0:
            return self.total_s
        return (self._frames_seen - 1 - self._last_voiced_frame) * self._frame_s

    # -- processing ----------------------------------------------------------------------------
    def feed(self, pcm: bytes) -> list[Utterance]:
        """Process PCM; return utterances that ended within it."""
        if len(pcm) % 2:
            raise AudioFormatError("16-bit PCM must have an even number of bytes")
        data = self._pending + pcm
        n = len(data) // self._frame_bytes
        out: list[Utterance] = []
        for i in range(n):
            frame = data[i * self._frame_bytes : (i + 1) * self._frame_bytes]
            utt = self._frame(frame)
            if utt is not None:
                out.append(utt)
        self._pending = data[n * self._frame_bytes :]
        return out

    def flush(self) -> list[Utterance]:
        """End of stream: the utterance in progress (if any) ends here."""
        self._pending = b""
        if self._in_speech:
            return [self._close(truncated=True)]
        return []

    def _frame(self, frame: bytes) -> Utterance | None:
        index = self._frames_seen
        self._frames_seen += 1
        voiced = self._loud_enough(frame) and self._vad.is_speech(frame, self.sample_rate)
        if voiced:
            self._last_voiced_frame = index
        if not self._in_speech:
            self._pre.append(frame)
            self._window.append((frame, voiced))
            if sum(v for _, v in self._window) >= self.config.start_voiced:
                self._in_speech = True
                self._utt = list(self._pre)
                self._utt_voiced = [True] * len(self._utt)  # pre-roll: never a cut point
                self._utt_start_frame = index + 1 - len(self._pre)
                self._silence_frames = 0
                self.speech_s += sum(v for _, v in self._window) * self._frame_s
                self._window.clear()
                self._pre.clear()
            return None
        self._utt.append(frame)
        self._utt_voiced.append(voiced)
        if voiced:
            self._silence_frames = 0
            self.speech_s += self._frame_s
        else:
            self._silence_frames += 1
        if self._silence_frames * self._frame_s >= self.config.end_silence_s:
            return self._close(truncated=False)
        if len(self._utt) * self._frame_s >= self.config.max_utterance_s:
            return self._forced_cut()
        return None

    def _pause_cut_point(self) -> int | None:
        """Frame index (in the utterance) of the middle of the longest unvoiced run of at least
        two frames within the last ``cut_search_s``; ``None`` if there is none."""
        search = max(2, round(self.config.cut_search_s / self._frame_s))
        first = max(1, len(self._utt_voiced) - search)
        best: tuple[int, int] | None = None  # (length, middle)
        run_start = None
        for i in range(first, len(self._utt_voiced) + 1):
            unvoiced = i < len(self._utt_voiced) and not self._utt_voiced[i]
            if unvoiced and run_start is None:
                run_start = i
            elif not unvoiced and run_start is not None:
                length = i - run_start
                if length >= 2 and (best is None or length >= best[0]):
                    best = (length, run_start + length // 2)
                run_start = None
        return best[1] if best else None

    def _forced_cut(self) -> Utterance:
        cut = self._pause_cut_point()
        if cut is None:
            return self._close(truncated=True)
        rest, rest_voiced = self._utt[cut:], self._utt_voiced[cut:]
        rest_start = self._utt_start_frame + cut
        self._utt, self._utt_voiced = self._utt[:cut], self._utt_voiced[:cut]
        utt = self._close(truncated=True)
        # The audio after the pause starts the next utterance (the caller is still speaking).
        self._in_speech = True
        self._utt, self._utt_voiced = rest, rest_voiced
        self._utt_start_frame = rest_start
        self._silence_frames = 0
        for v in reversed(rest_voiced):
            if v:
                break
            self._silence_frames += 1
        return utt

    def _loud_enough(self, frame: bytes) -> bool:
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float32)
        rms = float(np.sqrt(np.mean(samples * samples))) / 32768.0
        return rms > self._min_rms

    def _close(self, truncated: bool) -> Utterance:
        tail_frames = round(self.config.tail_s / self._frame_s)
        keep = len(self._utt) if truncated else max(1, len(self._utt) - self._silence_frames + tail_frames)
        keep = min(keep, len(self._utt))
        pcm = b"".join(self._utt[:keep])
        start = self._utt_start_frame * self._frame_s
        utt = Utterance(
            pcm=pcm,
            sample_rate=self.sample_rate,
            start_s=round(start, 3),
            end_s=round(start + keep * self._frame_s, 3),
            truncated=truncated,
        )
        self._in_speech = False
        self._utt = []
        self._utt_voiced = []
        self._silence_frames = 0
        self._window.clear()
        self._pre.clear()
        self.utterances += 1
        return utt


# --- file path: Silero VAD windows ---------------------------------------------------------------

#: Longest window the file path decodes at once (Whisper's encoder sees 30 s).
MAX_WINDOW_S = 28.0


def speech_windows(
    samples: npt.NDArray[np.float32], sample_rate: int = 16000, max_window_s: float = MAX_WINDOW_S
) -> list[tuple[int, int]]:
    """Decode windows of a whole recording, as ``(start, end)`` sample indices (文件转写分窗).

    Speech is found with the Silero VAD that faster-whisper ships in its package assets
    (``faster_whisper.vad``). The windows are contiguous and cover the recording; a recording of
    up to ``max_window_s`` seconds is one window, a longer one is cut in the middle of the last
    pause (between two Silero chunks) that keeps the window within ``max_window_s``, or hard at
    ``max_window_s`` if there is none. A window without any speech is dropped, so silence costs
    no decode and cannot be "transcribed".

    Windows are *not* trimmed to the speech: measured on the shared clips, decoding from the
    first Silero speech onset instead of the start of the file raised the CER at 8 kHz from
    9.6 % to 16.9 % (Whisper loses the first syllables without lead-in), and cutting at every
    pause is what made spontaneous speech loop.
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if sample_rate != 16000:
        raise AudioFormatError("speech_windows needs 16 kHz audio")
    total = int(samples.size)
    limit = int(max_window_s * sample_rate)
    chunks = [
        (int(c["start"]), int(c["end"]))
        for c in get_speech_timestamps(samples, VadOptions(max_speech_duration_s=max_window_s), sample_rate)
    ]
    if not chunks:
        return []
    cuts = [(a_end + b_start) // 2 for (_, a_end), (b_start, _) in itertools.pairwise(chunks)]
    bounds = [0]
    while total - bounds[-1] > limit:
        start = bounds[-1]
        fitting = [c for c in cuts if start < c <= start + limit]
        bounds.append(fitting[-1] if fitting else start + limit)
    bounds.append(total)
    windows = list(itertools.pairwise(bounds))
    return [(a, b) for a, b in windows if any(s < b and e > a for s, e in chunks)]
