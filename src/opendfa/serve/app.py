"""The FastAPI application: upload, analyse, store, fetch views, chat, list and delete cases.

Limits hold before work is done: `RequestGuard` (serve/guard.py) checks the Host, the API key,
the Origin and each route's body size before a body byte is read; an upload's header must fit
the decode budget (serve/budget.py, 413); analyses and renders run on one bounded worker
(serve/pool.py) that answers 503 with Retry-After when full, so `/api/health` and listings,
served on the event loop, stay fast under load. Chat answers come from one backend built at
start (serve/chat.py): grounded by default, or a DFA-GPT model whose answers take a slot on the
same worker and can be streamed as server-sent events. With an API key configured, every `/api/`
route except `/api/health` needs it, in `X-API-Key` or as `Authorization: Bearer KEY`; a
signed link (`/api/cases/{id}/report-link`) opens one HTML report for an hour without it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from opendfa import __version__
from opendfa.evidence.pipeline import Analyzer
from opendfa.explain.backends import ExplainError
from opendfa.serve.budget import DEFAULT_DECODE_BUDGET
from opendfa.serve.chat import ChatEngine
from opendfa.serve.guard import GuardConfig, RequestGuard
from opendfa.serve.jobs import Limits
from opendfa.serve.pool import Busy, KeyedLocks, RenderCache, WorkPool
from opendfa.serve.routes import ROUTERS, Services
from opendfa.store import CaseStore

MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the one file


@dataclass
class ServerConfig:
    data_dir: Path = Path("opendfa-data")
    model: str = "opendfa-lite0"
    api_key: str | None = None
    max_upload_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 50_000_000
    decode_budget: int = DEFAULT_DECODE_BUDGET  # pixels x channels, see serve/budget.py
    queue_size: int = 16  # analyses and renders admitted at once (one runs)
    video_frames: int = 16
    device: str = "cpu"
    allowed_hosts: tuple[str, ...] | None = None  # None: loopback names unless a key is set
    cors_origins: tuple[str, ...] = ()  # empty: no CORS headers, no cross-origin writes
    chat_body_bytes: int = 4096
    render_cache_bytes: int = 64 * 1024 * 1024
    backend: str = "grounded"  # chat answers: grounded or dfa-gpt (serve/chat.py)
    mllm: Path | None = None  # the DFA-GPT folder for backend dfa-gpt
    int8: bool = False  # dfa-gpt: int8 linear layers (faster on a CPU)
    max_new_tokens: int = 160  # dfa-gpt: tokens one answer may generate (at most 512)

    def body_limit(self, method: str, path: str) -> int:
        """Bytes a request body may have: the upload route its cap, every other route a
        small JSON document (a chat question)."""
        if method == "POST" and path == "/api/analyze":
            return self.max_upload_bytes + MULTIPART_SLACK
        return self.chat_body_bytes


def create_app(
    config: ServerConfig | None = None,
    *,
    analyzer: Analyzer | None = None,
    store: CaseStore | None = None,
    chat: ChatEngine | None = None,
) -> FastAPI:
    """The application: the services every route shares (`Services`, in `app.state`), the
    guard and error handlers, and the routers of `serve/routes.py`. The chat backend is
    built here, once: a model that cannot load stops the server before it starts
    (`ExplainError`, one line)."""
    config = config or ServerConfig()
    chat = chat or ChatEngine.create(
        config.backend,
        model_dir=config.mllm,
        quantize=config.int8,
        max_new_tokens=config.max_new_tokens,
    )
    services = Services(
        config=config,
        analyzer=analyzer
        or Analyzer(config.model, max_pixels=config.max_pixels, device=config.device),
        store=store or CaseStore(config.data_dir),
        pool=WorkPool(config.queue_size),
        cache=RenderCache(config.render_cache_bytes),
        chat_locks=KeyedLocks(),
        chat=chat,
        limits=Limits(config.max_upload_bytes, config.decode_budget, config.video_frames),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        services.pool.close()

    app = FastAPI(
        title="OpenDFA",
        version=__version__,
        description="Interactive deepfake analysis: upload a face image or video, read the "
        "verdict, see where, and ask why.",
        lifespan=lifespan,
    )
    app.state.services = services
    _install_middleware(app, config)
    _install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    return app


def _install_middleware(app: FastAPI, config: ServerConfig) -> None:
    guard = GuardConfig(config.api_key, config.allowed_hosts, config.cors_origins)
    app.add_middleware(RequestGuard, config=guard, body_limit=config.body_limit)
    if config.cors_origins:  # outside the guard, so preflight requests are answered
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type"],
        )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, err: RequestValidationError) -> JSONResponse:
        """FastAPI's default echoes each bad value back (`input`): a 100 MB body would come
        back as a 100 MB answer. Only where and what is said here."""
        return JSONResponse({"detail": [_brief(e) for e in err.errors()[:10]]}, 422)

    @app.exception_handler(Busy)
    async def busy(request: Request, err: Busy) -> JSONResponse:
        headers = {"Retry-After": str(err.retry_after)}
        return JSONResponse({"detail": str(err)}, 503, headers=headers)

    @app.exception_handler(ExplainError)
    async def cannot_answer(request: Request, err: ExplainError) -> JSONResponse:
        """A chat backend that cannot answer this case (e.g. DFA-GPT and no face)."""
        return JSONResponse({"detail": " ".join(str(err).split())[:300]}, status_code=422)

    @app.exception_handler(ValueError)
    async def value_error(request: Request, err: ValueError) -> JSONResponse:
        return JSONResponse({"detail": " ".join(str(err).split())[:300]}, status_code=422)


def _brief(error: dict) -> dict:
    loc = [part if isinstance(part, int) else str(part)[:64] for part in error.get("loc", ())]
    return {"loc": loc, "msg": str(error.get("msg", ""))[:200], "type": error.get("type")}
