"""What the server is configured with (`ServerConfig`) and what its routes share (`Services`).

Both live here, below `serve/app.py` (which builds them) and `serve/routes.py` (which reads
them), so neither of those two modules imports the other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import HTTPException

from opendfa.evidence.pipeline import Analyzer
from opendfa.media.budget import DEFAULT_MAX_DECODED_FRAMES
from opendfa.models.configs import DEFAULT_MODEL
from opendfa.serve.budget import DEFAULT_DECODE_BUDGET, DEFAULT_FRAME_MEMORY
from opendfa.serve.chat import ChatEngine
from opendfa.serve.jobs import Limits
from opendfa.serve.pool import KeyedLocks, RenderCache, WorkPool
from opendfa.serve.uploads import Spool
from opendfa.store import CaseStore
from opendfa.store.cases import StoreFull

MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the one file
HOUSEKEEPING_S = 60.0  # expired cases are looked for at most this often
log = logging.getLogger("opendfa.serve")


@dataclass
class ServerConfig:
    """The server's settings (`opendfa serve` fills them from its flags); defaults run."""

    data_dir: Path = Path("opendfa-data")
    model: str = DEFAULT_MODEL
    api_key: str | None = None
    max_upload_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 50_000_000
    decode_budget: int = DEFAULT_DECODE_BUDGET  # pixels x channels, see serve/budget.py
    queue_size: int = 16  # analyses and renders admitted at once (one runs)
    video_frames: int = 16
    device: str = "cpu"
    copy_move: bool = False  # images: also the clone check (opendfa.forensics.copy_move)
    forensic_stream: str | None = None  # a pixel-level stream model folder (experimental)
    allowed_hosts: tuple[str, ...] | None = None  # None: loopback names unless a key is set
    cors_origins: tuple[str, ...] = ()  # empty: no CORS headers, no cross-origin writes
    chat_body_bytes: int = 4096
    render_cache_bytes: int = 64 * 1024 * 1024
    backend: str = "grounded"  # chat answers: grounded or dfa-gpt (serve/chat.py)
    mllm: Path | None = None  # the DFA-GPT folder for backend dfa-gpt
    int8: bool = False  # dfa-gpt: int8 linear layers (faster on a CPU)
    max_new_tokens: int = 160  # dfa-gpt: tokens one answer may generate (at most 512)
    analysis_seconds: float | None = 60.0  # one analysis on the worker (None: no limit)
    max_decoded_frames: int = DEFAULT_MAX_DECODED_FRAMES  # frames one video may decode
    frame_memory: int = DEFAULT_FRAME_MEMORY  # samples of video frames one analysis holds
    body_timeout: float | None = 30.0  # seconds a request body may stall (408)
    upload_seconds: float = 300.0  # seconds one upload's body may take in all (408)
    max_temp_bytes: int = 512 * 1024 * 1024  # uploads being received, under <data>/tmp
    max_store_bytes: int | None = None  # the case store's quota (507 past it)
    keep_days: float | None = None  # cases older than this are deleted, oldest first

    def body_limit(self, method: str, path: str) -> int:
        """Bytes a request body may have: the upload route its cap, every other route a
        small JSON document (a chat question)."""
        if method == "POST" and path == "/api/analyze":
            return self.max_upload_bytes + MULTIPART_SLACK
        return self.chat_body_bytes


@dataclass
class Services:
    """What the routes share: the analyzer, the case store, the bounded worker and caches."""

    config: ServerConfig
    analyzer: Analyzer
    store: CaseStore
    pool: WorkPool
    cache: RenderCache
    chat_locks: KeyedLocks
    limits: Limits
    chat: ChatEngine
    spool: Spool
    _swept: float = field(default=float("-inf"), init=False)

    def expire(self, *, force: bool = False) -> list[str]:
        """Delete the cases older than `keep_days` (oldest first), at most once a minute
        unless forced; returns their ids."""
        days = self.config.keep_days
        now = time.monotonic()
        if days is None or (not force and now - self._swept < HOUSEKEEPING_S):
            return []
        self._swept = now
        gone = self.store.expire(time.time() - days * 86400)
        for case_id in gone:
            self.cache.forget(case_id)
        if gone:
            log.warning("deleted %d case(s) older than %g days", len(gone), days)
        return gone

    def check_room(self) -> None:
        """507 at once when the store is already at its quota (before the body is read)."""
        quota = self.store.max_bytes
        if quota is not None and self.store.usage() >= quota:
            raise StoreFull(f"the case store is full ({quota / 1e6:.1f} MB quota)")

    def case_or_404(self, case_id: str) -> None:
        if not self.store.exists(case_id):
            raise HTTPException(404, f"no case {case_id}")

    async def rendered(self, case_id: str, view: str, render: Callable[[], bytes | None]) -> bytes:
        """A cached rendering, or one made on the bounded worker (which looks in the cache
        again, so a burst of the same request renders once)."""
        self.case_or_404(case_id)
        data = self.cache.get(case_id, view)
        if data is None:
            data = await self.pool.run(
                _cached_render, self.cache, self.store, case_id, view, render
            )
        if data is None:
            raise HTTPException(404, "this case has no image to show")
        return data


def _cached_render(
    cache: RenderCache,
    store: CaseStore,
    case_id: str,
    view: str,
    render: Callable[[], bytes | None],
) -> bytes | None:
    data = cache.get(case_id, view)
    if data is None:
        data = render()
        if data is not None and store.exists(case_id):  # not for a case deleted meanwhile
            cache.put(case_id, view, data)
    return data
