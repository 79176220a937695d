"""The FastAPI application: upload, analyse, store, fetch views, chat, list and delete cases.

Limits hold before work is done: `RequestGuard` (serve/guard.py) checks the Host, the API key,
the Origin and each route's body size before a body byte is read, drops a body that stalls
and adds the security headers (no framing, a content policy); an upload holds a queue slot
from its first byte and is received under `<data>/tmp/` (serve/uploads.py, a cap on the
space uploads take there); its header must fit the decode budget (serve/budget.py, 413);
each analysis runs within a `WorkBudget` (seconds, decoded frames) that a disconnecting client
cancels; analyses and renders run on one bounded worker (serve/pool.py) that answers 503 with
Retry-After when full, so `/api/health` and listings, served on the event loop, stay fast
under load. The store may have a quota (507 when full) and a retention period. Chat answers
come from one backend built at start (serve/chat.py): grounded by default, or a DFA-GPT model
whose answers take a slot on the same worker and can be streamed as server-sent events. With
an API key configured, every `/api/` route except `/api/health` needs it, in `X-API-Key` or
as `Authorization: Bearer KEY`; a signed link (`/api/cases/{id}/report-link`) opens one HTML
report for an hour without it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from opendfa import __version__
from opendfa.evidence.pipeline import Analyzer
from opendfa.explain.contract import ExplainError
from opendfa.serve.chat import ChatEngine
from opendfa.serve.config import ServerConfig, Services
from opendfa.serve.guard import GuardConfig, RequestGuard
from opendfa.serve.jobs import Limits
from opendfa.serve.pool import Busy, KeyedLocks, RenderCache, WorkPool
from opendfa.serve.routes import ROUTERS
from opendfa.serve.uploads import ClientGone, Spool, sweep_system_temp
from opendfa.store import CaseStore
from opendfa.store.cases import StoreFull

CLIENT_GONE = 499  # never seen by anyone: the client has left (nginx's code for it)
log = logging.getLogger("opendfa.serve")


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
    (`ExplainError`, one line). Uploads left by a server that was killed are removed here
    and at exit; so are cases past the retention period."""
    config = config or ServerConfig()
    chat = chat or ChatEngine.create(
        config.backend,
        model_dir=config.mllm,
        quantize=config.int8,
        max_new_tokens=config.max_new_tokens,
    )
    store = store or CaseStore(config.data_dir)
    if config.max_store_bytes is not None:
        store.max_bytes = config.max_store_bytes
    services = Services(
        config=config,
        analyzer=analyzer
        or Analyzer(
            config.model,
            max_pixels=config.max_pixels,
            device=config.device,
            copy_move=config.copy_move,
            forensic_stream=config.forensic_stream,
        ),
        store=store,
        pool=WorkPool(config.queue_size),
        cache=RenderCache(config.render_cache_bytes),
        chat_locks=KeyedLocks(),
        chat=chat,
        limits=Limits(
            config.max_upload_bytes,
            config.decode_budget,
            config.video_frames,
            config.analysis_seconds,
            config.max_decoded_frames,
            config.frame_memory,
        ),
        spool=Spool(Path(config.data_dir) / "tmp", config.max_temp_bytes),
    )
    services.spool.clean()
    sweep_system_temp()
    services.expire(force=True)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        services.pool.close()
        services.spool.clean()

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
    app.add_middleware(
        RequestGuard,
        config=guard,
        body_limit=config.body_limit,
        body_timeout=config.body_timeout,
    )
    if config.cors_origins:  # outside the guard, so preflight requests are answered
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "HEAD", "POST", "DELETE"],
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
        if request.method == "POST":  # the body may be unread: do not reuse the connection
            headers["Connection"] = "close"
        return JSONResponse({"detail": str(err)}, 503, headers=headers)

    @app.exception_handler(StoreFull)
    async def store_full(request: Request, err: StoreFull) -> JSONResponse:
        detail = f"{err} (see `opendfa serve --max-store-gb`, `--keep-days`)"
        return JSONResponse({"detail": detail}, 507, headers={"Connection": "close"})

    @app.exception_handler(ClientGone)
    async def client_gone(request: Request, err: ClientGone) -> Response:
        return Response(status_code=CLIENT_GONE)  # already logged, as one line

    @app.exception_handler(ClientDisconnect)
    async def client_disconnected(request: Request, err: ClientDisconnect) -> Response:
        """A client that leaves while its body is read: one log line, no traceback."""
        log.warning("%s %s: the client disconnected", request.method, request.url.path)
        return Response(status_code=CLIENT_GONE)

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
