"""The process-wide final queue (最终识别队列): ended utterances of every call wait here for a decode.

Why: a Whisper final costs about a third of a CPU-second per second of speech; under load the finals
fall behind. Before, every AudioSocket session decoded its own finals and held its session slot until
the last one was done, so once Whisper was behind, new callers were refused at the session limit and
their intake got no transcript (docs/benchmarks.md, 30-caller load: 272 refused). Now a session hands
its ended utterances to this queue and frees its slot when the caller's audio ends; the queue decodes
them oldest first on the final worker pool.

Back-pressure degrades in steps instead of refusing a caller who is speaking (settings
``speech.final_queue_*``, in seconds of queued utterance audio):

1. ``shed_partials_s``: sessions skip the partial pass (live partials stop; the VAD and every final
   still see all audio) so the cores go to finals. A single live caller never gets there (one
   utterance is a few seconds).
2. ``cheap_after_s``: finals are decoded the cheap way (``beam_size`` 1, greedy) until the backlog is
   short again.
3. ``max_backlog_s``: new AudioSocket connections are refused (``admission``) — those callers go to
   the queue without the speech step; sessions already running are never cut and their finals are
   never dropped.

Pure asyncio + an :class:`~concurrent.futures.Executor`; the decode function is the caller's, so the
queue knows nothing of Whisper and is unit-testable with any function.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: decode(item, cheap) → result; runs on the executor.
Decode = Callable[[T, bool], R]
#: batch_decode(items, cheap) → one result per item, in order; runs on the executor.
BatchDecode = Callable[[list[T], bool], list[R]]


@dataclass(frozen=True)
class FinalQueuePolicy:
    """Thresholds in seconds of queued utterance audio (see the module docstring)."""

    shed_partials_s: float = 20.0
    cheap_after_s: float = 45.0
    max_backlog_s: float = 900.0


@dataclass
class FinalQueueStats:
    submitted: int = 0
    decoded: int = 0
    failed: int = 0
    cheap: int = 0
    cheap_s: float = 0.0
    max_backlog_s: float = 0.0
    refused: int = 0
    batches: int = 0  # decode calls (a batch of several items counts once)
    waits: list[float] = field(default_factory=list)  # queue wait of the last decodes (seconds)


@dataclass
class _Job(Generic[T, R]):
    item: T
    seconds: float
    decode: Decode[T, R]
    future: asyncio.Future[R]
    queued_at: float


class FinalQueue(Generic[T, R]):
    """Bounded-by-degradation FIFO of final decodes shared by all sessions of the process."""

    def __init__(
        self,
        pool: Executor,
        *,
        workers: int,
        policy: FinalQueuePolicy | None = None,
        on_backlog: Callable[[float], None] | None = None,
        on_cheap: Callable[[float], None] | None = None,
        batch_decode: BatchDecode[T, R] | None = None,
        max_batch: int = 1,
    ) -> None:
        self.pool = pool
        self.workers = max(1, workers)
        # with ``batch_decode`` every decode goes through it — up to ``max_batch`` waiting items (of
        # any calls) at once; without it each item's own ``decode`` runs
        self.batch_decode = batch_decode
        self.max_batch = max(1, max_batch)
        self.policy = policy or FinalQueuePolicy()
        self.on_backlog = on_backlog
        self.on_cheap = on_cheap
        self.stats = FinalQueueStats()
        self._queue: asyncio.Queue[_Job[T, R]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._backlog_s = 0.0  # audio waiting (not yet picked by a worker)
        self._running = 0

    # -- state ---------------------------------------------------------------------------------
    @property
    def backlog_s(self) -> float:
        return self._backlog_s

    @property
    def pending(self) -> int:
        """Decodes waiting or running."""
        return (self._queue.qsize() if self._queue is not None else 0) + self._running

    @property
    def shed_partials(self) -> bool:
        """True when sessions should skip partial work for the finals' sake."""
        return self._backlog_s > self.policy.shed_partials_s

    @property
    def idle(self) -> bool:
        """Nothing waiting and a worker free (speculative decodes run only then)."""
        return (
            self._backlog_s <= 0
            and (self._queue is None or self._queue.empty())
            and self._running < self.workers
        )

    @property
    def cheap(self) -> bool:
        return self._backlog_s > self.policy.cheap_after_s

    def admission(self) -> str | None:
        """Why a new session must be refused now (``None`` = welcome)."""
        if self._backlog_s > self.policy.max_backlog_s:
            self.stats.refused += 1
            limit = self.policy.max_backlog_s
            return f"final queue holds {self._backlog_s:.0f} s of speech (limit {limit:.0f} s)"
        return None

    def _set_backlog(self, value: float) -> None:
        self._backlog_s = max(0.0, value)
        self.stats.max_backlog_s = max(self.stats.max_backlog_s, self._backlog_s)
        if self.on_backlog is not None:
            self.on_backlog(self._backlog_s)

    # -- lifecycle -----------------------------------------------------------------------------
    def _ensure_started(self) -> asyncio.Queue[_Job[T, R]]:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._tasks = [
                asyncio.create_task(self._work(), name=f"asr-final-queue-{i}") for i in range(self.workers)
            ]
        return self._queue

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._queue is not None:
            while not self._queue.empty():
                job = self._queue.get_nowait()
                if not job.future.done():
                    job.future.cancel()
        self._queue = None

    # -- API -----------------------------------------------------------------------------------
    def submit(self, item: T, seconds: float, decode: Decode[T, R]) -> asyncio.Future[R]:
        """Queue ``item`` (``seconds`` of audio); the future resolves to ``decode(item, cheap)``."""
        queue = self._ensure_started()
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        queue.put_nowait(_Job(item, seconds, decode, future, time.monotonic()))
        self.stats.submitted += 1
        self._set_backlog(self._backlog_s + seconds)
        return future

    async def _work(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            taken = [await self._queue.get()]
            if self.batch_decode is not None:
                while len(taken) < self.max_batch and not self._queue.empty():
                    taken.append(self._queue.get_nowait())
            # a long queue (these jobs included) → the cheap decode
            cheap = self.cheap
            self._set_backlog(self._backlog_s - sum(j.seconds for j in taken))
            jobs = [j for j in taken if not j.future.cancelled()]
            if not jobs:
                continue
            self._running += 1
            now = time.monotonic()
            self.stats.waits.extend(now - j.queued_at for j in jobs)
            del self.stats.waits[:-1000]
            self.stats.batches += 1
            try:
                if self.batch_decode is not None:
                    results = await loop.run_in_executor(
                        self.pool, self.batch_decode, [j.item for j in jobs], cheap
                    )
                else:
                    results = [await loop.run_in_executor(self.pool, jobs[0].decode, jobs[0].item, cheap)]
            except asyncio.CancelledError:
                for j in jobs:
                    if not j.future.done():
                        j.future.cancel()
                raise
            except Exception as exc:
                self.stats.failed += len(jobs)
                for j in jobs:
                    if not j.future.done():
                        j.future.set_exception(exc)
            else:
                self.stats.decoded += len(jobs)
                for j, result in zip(jobs, results, strict=True):
                    if cheap:
                        self.stats.cheap += 1
                        self.stats.cheap_s += j.seconds
                        if self.on_cheap is not None:
                            self.on_cheap(j.seconds)
                    if not j.future.done():
                        j.future.set_result(result)
            finally:
                self._running -= 1
