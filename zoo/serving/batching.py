"""Server-side micro-batching: concurrent requests for one evaluate hook become one model call.

Requests queue up; a worker takes the first, then keeps taking queued requests for up to
``max_wait_s`` (the bounded wait) or until ``max_rows`` rows are gathered, concatenates the
rows of each hook, runs the model once per hook on its own thread (so the event loop keeps
accepting requests and the model is never called from two threads at once) and hands each
request its own slice of the outputs. A burst of single-row requests thus costs a few model
calls, not one per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


@dataclass
class _Request:
    hook: str
    x: np.ndarray
    done: asyncio.Future[np.ndarray] = field(repr=False)


@dataclass
class BatchStats:
    """Counters of a batcher: requests answered, rows, and model calls they took."""

    requests: int = 0
    rows: int = 0
    model_calls: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"requests": self.requests, "rows": self.rows, "model_calls": self.model_calls}


class MicroBatcher:
    """Joins concurrent requests into model calls of at most ``max_rows`` rows.

    Args:
        infer: ``infer(hook, rows) -> outputs``, one output row per input row.
        max_rows: The most rows one model call gets (a request is never split).
        max_wait_s: How long the worker waits for more requests once it has one.
    """

    def __init__(self, infer: Callable[[str, np.ndarray], np.ndarray], *, max_rows: int,
                 max_wait_s: float) -> None:
        self.infer = infer
        self.max_rows = max_rows
        self.max_wait_s = max_wait_s
        self.stats = BatchStats()
        self._queue: asyncio.Queue[_Request | None] = asyncio.Queue()
        self._held: _Request | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zoo-model")
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        """Answer what is queued, then stop the worker and the model thread."""
        await self._queue.put(None)
        if self._worker is not None:
            await self._worker
        self._thread.shutdown(wait=True)

    async def run(self, hook: str, x: np.ndarray) -> np.ndarray:
        """``hook``'s outputs for ``x``, computed in a batch with concurrent requests."""
        done: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Request(hook, x, done))
        return await done

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run other model work (sampling) on the model thread, between batches."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def _work(self) -> None:
        while True:
            first = self._held or await self._queue.get()
            self._held = None
            if first is None:
                return
            batch, stopping = await self._gather(first)
            await self._run(batch)
            if stopping:
                return

    async def _gather(self, first: _Request) -> tuple[list[_Request], bool]:
        """``first`` and the requests that arrive within the wait, up to ``max_rows`` rows;
        and whether the stop signal came meanwhile."""
        loop = asyncio.get_running_loop()
        batch, rows = [first], len(first.x)
        deadline = loop.time() + self.max_wait_s
        while rows < self.max_rows:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            if item is None:
                return batch, True
            if rows + len(item.x) > self.max_rows:
                self._held = item
                break
            batch.append(item)
            rows += len(item.x)
        return batch, False

    async def _run(self, batch: list[_Request]) -> None:
        loop = asyncio.get_running_loop()
        for hook in dict.fromkeys(r.hook for r in batch):
            requests = [r for r in batch if r.hook == hook]
            x = np.concatenate([r.x for r in requests])
            try:
                outputs = await loop.run_in_executor(self._thread, self.infer, hook, x)
            except Exception as exc:  # every waiting request gets the model's error
                for request in requests:
                    if not request.done.done():  # a client that left cancelled its own
                        request.done.set_exception(exc)
                continue
            self.stats.model_calls += 1
            self.stats.requests += len(requests)
            self.stats.rows += len(x)
            start = 0
            for request in requests:
                if not request.done.done():
                    request.done.set_result(outputs[start:start + len(request.x)])
                start += len(request.x)
