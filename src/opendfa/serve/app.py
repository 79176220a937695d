"""The FastAPI application: upload, analyse, store, fetch views, chat, list and delete cases.

Limits hold before work is done: `RequestGuard` (serve/guard.py) checks the Host, the API key,
the Origin and each route's body size before a body byte is read; an upload's header must fit
the decode budget (serve/budget.py, 413); analyses and renders run on one bounded worker
(serve/pool.py) that answers 503 with Retry-After when full, so `/api/health` and listings,
served on the event loop, stay fast under load. With an API key configured, every `/api/`
route except `/api/health` needs it, in `X-API-Key` or as `Authorization: Bearer KEY`; a
signed link (`/api/cases/{id}/report-link`) opens one HTML report for an hour without it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from opendfa import __version__
from opendfa.evidence.pipeline import Analyzer
from opendfa.serve.budget import DEFAULT_DECODE_BUDGET
from opendfa.serve.guard import GuardConfig, RequestGuard, sign_link
from opendfa.serve.jobs import (
    VIEWS,
    Limits,
    Upload,
    analyse_upload,
    converse,
    render_report,
    render_view,
)
from opendfa.serve.pool import Busy, KeyedLocks, RenderCache, WorkPool
from opendfa.store import CaseStore

STATIC = Path(__file__).resolve().parent / "static"
MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the one file
MAX_OFFSET = 1_000_000_000  # beyond any store, and far inside SQLite's 64-bit integers
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "image or video",
                        }
                    },
                }
            }
        },
    }
}


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

    def body_limit(self, method: str, path: str) -> int:
        """Bytes a request body may have: the upload route its cap, every other route a
        small JSON document (a chat question)."""
        if method == "POST" and path == "/api/analyze":
            return self.max_upload_bytes + MULTIPART_SLACK
        return self.chat_body_bytes


class ChatRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000)


def create_app(
    config: ServerConfig | None = None,
    *,
    analyzer: Analyzer | None = None,
    store: CaseStore | None = None,
) -> FastAPI:
    config = config or ServerConfig()
    analyzer = analyzer or Analyzer(
        config.model, max_pixels=config.max_pixels, device=config.device
    )
    store = store or CaseStore(config.data_dir)
    pool = WorkPool(config.queue_size)
    cache = RenderCache(config.render_cache_bytes)
    chat_locks = KeyedLocks()
    limits = Limits(config.max_upload_bytes, config.decode_budget, config.video_frames)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        pool.close()

    app = FastAPI(
        title="OpenDFA",
        version=__version__,
        description="Interactive deepfake analysis: upload a face image or video, read the "
        "verdict, see where, and ask why.",
        lifespan=lifespan,
    )
    app.state.analyzer, app.state.store, app.state.config = analyzer, store, config
    app.state.pool, app.state.cache, app.state.chat_locks = pool, cache, chat_locks
    _install_middleware(app, config)
    _install_error_handlers(app)

    def case_or_404(case_id: str) -> None:
        if not store.exists(case_id):
            raise HTTPException(404, f"no case {case_id}")

    async def rendered(case_id: str, view: str, render: Callable[[], bytes | None]) -> bytes:
        """A cached rendering, or one made on the bounded worker (which looks in the cache
        again, so a burst of the same request renders once)."""
        case_or_404(case_id)
        data = cache.get(case_id, view)
        if data is None:
            data = await pool.run(_cached_render, cache, store, case_id, view, render)
        if data is None:
            raise HTTPException(404, "this case has no image to show")
        return data

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "detector": analyzer.model_info.detector,
            "weights_sha256": analyzer.model_info.weights_sha256,
            "auth": bool(config.api_key),
            "queue": {"pending": pool.pending, "capacity": pool.capacity},
        }

    @app.post("/api/analyze", status_code=201, openapi_extra=UPLOAD_BODY)
    async def analyze(request: Request) -> dict:
        pool.check()  # a full queue answers 503 before the body is read
        form = await request.form(max_files=1, max_fields=4)
        try:
            upload = _upload_from(form)
            case = await pool.run(analyse_upload, analyzer, store, upload, limits)
        finally:
            await form.close()
        return {"case": case.summary(), "report": case.report}

    @app.get("/api/cases")
    async def list_cases(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict:
        return {"total": store.count(), "cases": store.summaries(limit, offset)}

    @app.get("/api/cases/{case_id}")
    async def get_case(case_id: str) -> dict:
        case = store.get(case_id)
        if case is None:
            raise HTTPException(404, f"no case {case_id}")
        turns = [vars(t) for t in store.turns(case_id)]
        return {"case": case.summary(), "report": case.report, "turns": turns}

    @app.delete("/api/cases/{case_id}", status_code=204)
    async def delete_case(case_id: str) -> Response:
        if not store.delete(case_id):
            raise HTTPException(404, f"no case {case_id}")
        cache.forget(case_id)
        return Response(status_code=204)

    @app.get("/api/cases/{case_id}/{view}.png", responses={200: {"content": {"image/png": {}}}})
    async def view_png(case_id: str, view: str) -> Response:
        if view not in VIEWS:
            raise HTTPException(404, "views: image, overlay, mask")
        png = await rendered(case_id, view, lambda: render_view(store, case_id, view))
        return Response(png, media_type="image/png")

    @app.get("/api/cases/{case_id}/report.html", response_class=HTMLResponse)
    async def report_html(case_id: str) -> HTMLResponse:
        html = await rendered(case_id, "report.html", lambda: render_report(store, case_id))
        return HTMLResponse(html)

    @app.get("/api/cases/{case_id}/report-link")
    async def report_link(case_id: str) -> dict:
        """A link to the HTML report that works without the key header (signed, one hour)."""
        case_or_404(case_id)
        url = f"/api/cases/{case_id}/report.html"
        return {"url": f"{url}?{sign_link(config.api_key, case_id)}" if config.api_key else url}

    @app.post("/api/cases/{case_id}/chat")
    async def chat(case_id: str, request: ChatRequest) -> dict:
        async with chat_locks.hold(case_id):
            return await run_in_threadpool(converse, store, case_id, request.question)

    @app.get("/api/cases/{case_id}/chat")
    async def chat_history(case_id: str) -> dict:
        case_or_404(case_id)
        return {"turns": [vars(t) for t in store.turns(case_id)]}

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

    @app.exception_handler(ValueError)
    async def value_error(request: Request, err: ValueError) -> JSONResponse:
        return JSONResponse({"detail": " ".join(str(err).split())[:300]}, status_code=422)


def _brief(error: dict) -> dict:
    loc = [part if isinstance(part, int) else str(part)[:64] for part in error.get("loc", ())]
    return {"loc": loc, "msg": str(error.get("msg", ""))[:200], "type": error.get("type")}


def _upload_from(form: FormData) -> Upload:
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise HTTPException(422, "send the image or video as a multipart file part named 'file'")
    name = Path(file.filename or "").name[:200]
    if not name:
        raise HTTPException(422, "the file part has an empty filename")
    return Upload(name, file.file)


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
