"""The process-wide final queue (pure logic: a thread pool and plain decode functions)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from callcenter.plugins.speech.final_queue import FinalQueue, FinalQueuePolicy


async def test_fifo_backlog_and_the_degradation_steps() -> None:
    gate = threading.Event()
    seen: list[tuple[str, bool]] = []

    def decode(item: str, cheap: bool) -> str:
        gate.wait(5)
        seen.append((item, cheap))
        return item.upper()

    backlog: list[float] = []
    with ThreadPoolExecutor(1) as pool:
        q: FinalQueue[str, str] = FinalQueue(
            pool,
            workers=1,
            policy=FinalQueuePolicy(shed_partials_s=2.0, cheap_after_s=4.0, max_backlog_s=6.0),
            on_backlog=backlog.append,
        )
        first = q.submit("a", 1.5, decode)  # picked at once, blocks the only worker
        await asyncio.sleep(0.05)
        assert q.backlog_s == 0 and q.pending == 1
        futures = [q.submit(x, 1.5, decode) for x in "bcde"]
        assert q.backlog_s == 6.0 and q.shed_partials and q.cheap and q.admission() is None
        futures.append(q.submit("f", 1.0, decode))
        assert (why := q.admission()) is not None and "7 s of speech" in why
        gate.set()
        assert await first == "A"
        assert [await f for f in futures] == list("BCDEF")
        # oldest first; cheap while the backlog (the job included) was over 4 s
        assert seen == [("a", False), ("b", True), ("c", True), ("d", False), ("e", False), ("f", False)]
        assert q.backlog_s == 0 and q.pending == 0 and not q.shed_partials and q.admission() is None
        assert q.stats.decoded == 6 and q.stats.cheap == 2 and q.stats.max_backlog_s == 7.0
        assert q.stats.refused == 1 and backlog[-1] == 0.0
        await q.close()


async def test_a_failed_decode_fails_only_its_future() -> None:
    def decode(item: int, cheap: bool) -> int:
        if item == 2:
            raise RuntimeError("boom")
        return item * 10

    with ThreadPoolExecutor(2) as pool:
        q: FinalQueue[int, int] = FinalQueue(pool, workers=2)
        futures = [q.submit(i, 1.0, decode) for i in range(4)]
        results = await asyncio.gather(*futures, return_exceptions=True)
        assert results[0] == 0 and results[1] == 10 and results[3] == 30
        assert isinstance(results[2], RuntimeError)
        assert q.stats.failed == 1 and q.stats.decoded == 3
        await q.close()


async def test_close_cancels_what_is_still_waiting() -> None:
    gate = threading.Event()

    def decode(item: int, cheap: bool) -> int:
        gate.wait(5)
        return item

    with ThreadPoolExecutor(1) as pool:
        q: FinalQueue[int, int] = FinalQueue(pool, workers=1)
        running = q.submit(1, 1.0, decode)
        waiting = q.submit(2, 1.0, decode)
        await asyncio.sleep(0.05)
        await q.close()
        gate.set()
        assert running.cancelled() and waiting.cancelled()
        with pytest.raises(asyncio.CancelledError):
            await waiting


async def test_batches_take_what_is_waiting() -> None:
    gate = threading.Event()
    calls: list[tuple[list[int], bool]] = []

    def one(item: int, cheap: bool) -> int:
        raise AssertionError("with batch_decode every decode is batched")

    def batch(items: list[int], cheap: bool) -> list[int]:
        gate.wait(5)
        calls.append((items, cheap))
        return [i * 2 for i in items]

    with ThreadPoolExecutor(1) as pool:
        q: FinalQueue[int, int] = FinalQueue(
            pool, workers=1, batch_decode=batch, max_batch=3, policy=FinalQueuePolicy(cheap_after_s=3.5)
        )
        first = q.submit(0, 1.0, one)
        await asyncio.sleep(0.05)
        rest = [q.submit(i, 1.0, one) for i in range(1, 6)]
        gate.set()
        assert [await f for f in [first, *rest]] == [0, 2, 4, 6, 8, 10]
        # 0 alone (nothing else waited), then 3 of the 5 waiting (5 s queued: cheap), then the last 2
        assert calls == [([0], False), ([1, 2, 3], True), ([4, 5], False)]
        assert q.stats.batches == 3 and q.stats.decoded == 6 and q.stats.cheap == 3
        await q.close()
