"""The server's chat: one answer backend built at start and shared by every case, and its
answers as server-sent events.

`grounded` answers from the report's numbers in milliseconds, on Starlette's thread pool as
before. A model backend (`dfa-gpt`) is loaded once; its answers run on the bounded worker
(serve/pool.py: 503 with Retry-After when full), one generation at a time (a lock: the model
and its face detector are not shared between threads) and never longer than the server's
`max_new_tokens`, whatever the client asks.

The stream (`POST /api/cases/{id}/chat/stream`) sends `event: token` with `{"text": ...}` for
each piece of text as the model writes it (the backend's `on_text`, called on the worker thread
and handed to the event loop through a queue), then one `event: done` with the JSON the plain
chat route answers; a backend that does not stream sends its whole answer as one token. A
failure after the stream has started is one `event: error` with `{"detail": one line}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from fastapi import HTTPException
from fastapi.encoders import jsonable_encoder
from starlette.concurrency import run_in_threadpool

from opendfa.explain.backends import Backend, ExplainError, make_backend
from opendfa.serve.jobs import converse
from opendfa.serve.pool import Busy, KeyedLocks, WorkPool
from opendfa.store import CaseStore

SERVED_BACKENDS = ("grounded", "dfa-gpt")
MAX_NEW_TOKENS = 512  # the most any server configuration lets one answer generate
_LOG = logging.getLogger("opendfa.serve")


class Stopped(Exception):
    """The client left the stream: generation stops at its next piece of text."""


class ChatEngine:
    """The backend every case's chat uses, with the lock that keeps it to one answer at a time
    when it is a model."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.name: str = backend.name
        self.streams = bool(getattr(backend, "streams", False))
        self.heavy = self.name != "grounded"  # a model: the bounded worker, the case's image
        self._lock: contextlib.AbstractContextManager = (
            threading.Lock() if self.heavy else contextlib.nullcontext()
        )

    @classmethod
    def create(
        cls,
        name: str = "grounded",
        *,
        model_dir: str | Path | None = None,
        quantize: bool = False,
        max_new_tokens: int = 160,
    ) -> ChatEngine:
        """Build the named backend once; `ExplainError` (one line) when it cannot run here."""
        if name not in SERVED_BACKENDS:
            raise ExplainError(
                f"the server answers with {' or '.join(SERVED_BACKENDS)}, not {name!r}"
            )
        if name == "grounded":
            return cls(make_backend("grounded"))
        missing = [m for m in ("transformers", "peft") if importlib.util.find_spec(m) is None]
        if missing:
            raise ExplainError(
                f"the dfa-gpt backend needs {' and '.join(missing)}: "
                "pip install 'opendfa[gemma]' (or use --backend grounded)"
            )
        tokens = max(1, min(int(max_new_tokens), MAX_NEW_TOKENS))
        backend = make_backend(
            "dfa-gpt", model_dir=model_dir, quantize=quantize, max_new_tokens=tokens
        )
        return cls(backend)

    def answer(
        self,
        store: CaseStore,
        case_id: str,
        question: str,
        on_text: Callable[[str], None] | None = None,
    ) -> dict:
        """Answer and store one question (on a worker thread); `on_text` gets the pieces of
        a streaming backend's answer as they are generated."""
        with self._lock:
            if not self.streams:
                return converse(store, case_id, question, self.backend, with_image=self.heavy)
            self.backend.on_text = on_text
            try:
                return converse(store, case_id, question, self.backend, with_image=self.heavy)
            finally:
                self.backend.on_text = None

    async def run(
        self,
        pool: WorkPool,
        store: CaseStore,
        case_id: str,
        question: str,
        on_text: Callable[[str], None] | None = None,
    ) -> dict:
        if self.heavy:
            return await pool.run(self.answer, store, case_id, question, on_text)
        return await run_in_threadpool(self.answer, store, case_id, question, on_text)


def sse(event: str, data: dict) -> bytes:
    """One server-sent event; JSON keeps the data on one line (encoded as FastAPI encodes the
    plain route's answer)."""
    text = json.dumps(jsonable_encoder(data), ensure_ascii=False)
    return f"event: {event}\ndata: {text}\n\n".encode()


async def stream_answer(
    engine: ChatEngine,
    pool: WorkPool,
    store: CaseStore,
    locks: KeyedLocks,
    case_id: str,
    question: str,
) -> AsyncIterator[bytes]:
    """The events of one answer: tokens as they come, then done (or error)."""
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str | None] = asyncio.Queue()
    stop = threading.Event()

    def on_text(piece: str) -> None:  # on the worker thread
        if stop.is_set():
            raise Stopped
        loop.call_soon_threadsafe(pieces.put_nowait, piece)

    async with locks.hold(case_id):
        job = asyncio.ensure_future(engine.run(pool, store, case_id, question, on_text))
        # Pieces are queued before the job's result reaches the loop, so None comes last.
        job.add_done_callback(lambda done: (pieces.put_nowait(None), _retrieve(done)))
        streamed = False
        try:
            while (piece := await pieces.get()) is not None:
                streamed = True
                yield sse("token", {"text": piece})
            reply = job.result()
        except Exception as err:  # the stream has started: the error is an event
            yield sse("error", {"detail": _one_line(err)})
            return
        finally:
            stop.set()  # the client left or the answer is over: no more generation
        if not streamed:
            yield sse("token", {"text": reply["answer"]})
        yield sse("done", reply)


def _retrieve(job: asyncio.Future) -> None:
    """Read the job's outcome, so a stream closed early leaves no 'never retrieved' warning."""
    if not job.cancelled():
        job.exception()


def _one_line(err: Exception) -> str:
    if isinstance(err, HTTPException):
        message = err.detail
    elif isinstance(err, (ExplainError, ValueError, Busy)):
        message = err
    else:
        _LOG.exception("chat answer failed", exc_info=err)
        message = f"the answer failed ({type(err).__name__})"
    return " ".join(str(message).split())[:300]
