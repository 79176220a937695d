"""Bounded work for the server: one worker for analyses and renders, a byte-bounded render
cache, and per-case locks for conversations.

Heavy work (decoding, face detection, the detector, PNG encoding) runs on one worker thread
with at most `capacity` jobs admitted; past that a request gets `Busy` (503 with Retry-After)
at once instead of waiting, so memory stays bounded and the event loop, which answers
`/api/health` and case listings, never waits behind an analysis. An upload takes its place
(`reserve`) before its first body byte is read and hands it to its analysis, so uploads being
received count against the same capacity.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


class Busy(Exception):
    """The work queue is full; `retry_after` is the expected wait in whole seconds."""

    def __init__(self, retry_after: int, reason: str = "the server is busy") -> None:
        super().__init__(f"{reason}; retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass
class Slot:
    """A place in the queue taken before its job exists (an upload holds one from its first
    byte); `WorkPool.submit(..., slot=)` hands it to the job, `release()` gives it back."""

    pool: WorkPool
    held: bool = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.pool._release(None)

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass
class WorkPool:
    """One worker thread (MediaPipe graphs and the detector are used one call at a time)."""

    capacity: int = 16
    _pending: int = field(default=0, init=False)
    _mean_s: float = field(default=0.5, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="opendfa-work"),
        init=False,
    )

    @property
    def pending(self) -> int:
        return self._pending

    def check(self) -> None:
        """Raise `Busy` if a job would be refused now (cheap, before reading a body)."""
        if self._pending >= self.capacity:
            raise Busy(self.retry_after())

    def retry_after(self) -> int:
        return max(1, math.ceil(self._pending * self._mean_s))

    def reserve(self) -> Slot:
        """Take a place now (`Busy` if none is left), for a job submitted later."""
        with self._lock:
            if self._pending >= self.capacity:
                raise Busy(self.retry_after())
            self._pending += 1
        return Slot(self)

    def submit(self, fn: Callable[..., T], *args: Any, slot: Slot | None = None) -> Future[T]:
        """Queue `fn(*args)` on the worker in `slot` (a new place if None); the place is
        freed when the job ends or is cancelled before it starts."""
        slot = slot or self.reserve()
        if not slot.held:
            raise RuntimeError("this queue slot was already used or released")
        slot.held = False  # the job owns it now
        try:
            future = self._executor.submit(self._timed, fn, *args)
        except BaseException:
            self._release(None)
            raise
        future.add_done_callback(self._release)
        return future

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the worker; the slot is freed when the job ends, even if the
        client went away meanwhile."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _timed(self, fn: Callable[..., T], *args: Any) -> T:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self._mean_s = 0.8 * self._mean_s + 0.2 * (time.perf_counter() - start)

    def _release(self, _future: object) -> None:
        with self._lock:
            self._pending -= 1


@dataclass
class RenderCache:
    """Rendered bytes (PNG views, HTML reports) by (case id, view), least recently used
    first out once `max_bytes` is passed."""

    max_bytes: int = 64 * 1024 * 1024
    _items: OrderedDict[tuple[str, str], bytes] = field(default_factory=OrderedDict, init=False)
    _size: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def get(self, case_id: str, view: str) -> bytes | None:
        with self._lock:
            data = self._items.get((case_id, view))
            if data is not None:
                self._items.move_to_end((case_id, view))
            return data

    def put(self, case_id: str, view: str, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop((case_id, view), None)
            self._size += len(data) - (len(old) if old is not None else 0)
            self._items[(case_id, view)] = data
            while self._size > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)

    def forget(self, case_id: str) -> None:
        with self._lock:
            for key in [k for k in self._items if k[0] == case_id]:
                self._size -= len(self._items.pop(key))


@dataclass
class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it (event loop only)."""

    _locks: dict[str, tuple[asyncio.Lock, int]] = field(default_factory=dict, init=False)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
