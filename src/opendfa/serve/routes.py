"""The HTTP routes, one `APIRouter` per concern: the page and health, analysis, cases (with
their views and reports), chat. Each route takes the shared `Services` (built once by
`create_app`) through a dependency, so no route is a closure over the app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.datastructures import FormData, UploadFile

from opendfa import __version__
from opendfa.evidence.pipeline import Analyzer
from opendfa.serve.chat import ChatEngine, stream_answer
from opendfa.serve.guard import sign_link
from opendfa.serve.jobs import (
    VIEWS,
    Limits,
    Upload,
    analyse_upload,
    render_report,
    render_view,
)
from opendfa.serve.pool import KeyedLocks, RenderCache, WorkPool
from opendfa.store import CaseStore

if TYPE_CHECKING:
    from opendfa.serve.app import ServerConfig

STATIC = Path(__file__).resolve().parent / "static"
MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the one file
MAX_OFFSET = 1_000_000_000  # beyond any store, and far inside SQLite's 64-bit integers
SSE_DESCRIPTION = (
    'event: token, data: {"text": piece}; then event: done, data: the chat answer '
    '(answer, intent, facts, attachments, backend); or event: error, data: {"detail": line}'
)
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


def _services(request: Request) -> Services:
    return request.app.state.services


Shared = Annotated[Services, Depends(_services)]


class ChatRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000)


# ----------------------------------------------------------------------------- page and health

system = APIRouter()


@system.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index() -> HTMLResponse:
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))


@system.get("/api/health")
async def health(s: Shared) -> dict[str, Any]:
    return {
        "status": "ok",
        "version": __version__,
        "detector": s.analyzer.model_info.detector,
        "weights_sha256": s.analyzer.model_info.weights_sha256,
        "auth": bool(s.config.api_key),
        "chat": {"backend": s.chat.name, "streams": s.chat.streams},
        "queue": {"pending": s.pool.pending, "capacity": s.pool.capacity},
    }


# ----------------------------------------------------------------------------- analysis

analysis = APIRouter()


@analysis.post("/api/analyze", status_code=201, openapi_extra=UPLOAD_BODY)
async def analyze(request: Request, s: Shared) -> dict:
    s.pool.check()  # a full queue answers 503 before the body is read
    form = await request.form(max_files=1, max_fields=4)
    try:
        upload = _upload_from(form)
        case = await s.pool.run(analyse_upload, s.analyzer, s.store, upload, s.limits)
    finally:
        await form.close()
    return {"case": case.summary(), "report": case.report}


# ----------------------------------------------------------------------------- cases

cases = APIRouter(prefix="/api/cases")


@cases.get("")
async def list_cases(
    s: Shared,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict:
    return {"total": s.store.count(), "cases": s.store.summaries(limit, offset)}


@cases.get("/{case_id}")
async def get_case(case_id: str, s: Shared) -> dict:
    case = s.store.get(case_id)
    if case is None:
        raise HTTPException(404, f"no case {case_id}")
    turns = [vars(t) for t in s.store.turns(case_id)]
    return {"case": case.summary(), "report": case.report, "turns": turns, "backend": s.chat.name}


@cases.delete("/{case_id}", status_code=204)
async def delete_case(case_id: str, s: Shared) -> Response:
    if not s.store.delete(case_id):
        raise HTTPException(404, f"no case {case_id}")
    s.cache.forget(case_id)
    return Response(status_code=204)


@cases.get("/{case_id}/{view}.png", responses={200: {"content": {"image/png": {}}}})
async def view_png(case_id: str, view: str, s: Shared) -> Response:
    if view not in VIEWS:
        raise HTTPException(404, "views: image, overlay, mask")
    png = await s.rendered(case_id, view, lambda: render_view(s.store, case_id, view))
    return Response(png, media_type="image/png")


@cases.get("/{case_id}/report.html", response_class=HTMLResponse)
async def report_html(case_id: str, s: Shared) -> HTMLResponse:
    html = await s.rendered(case_id, "report.html", lambda: render_report(s.store, case_id))
    return HTMLResponse(html)


@cases.get("/{case_id}/report-link")
async def report_link(case_id: str, s: Shared) -> dict:
    """A link to the HTML report that works without the key header (signed, one hour)."""
    s.case_or_404(case_id)
    url = f"/api/cases/{case_id}/report.html"
    key = s.config.api_key
    return {"url": f"{url}?{sign_link(key, case_id)}" if key else url}


# ----------------------------------------------------------------------------- chat

chat = APIRouter(prefix="/api/cases")


@chat.post("/{case_id}/chat")
async def ask(case_id: str, request: ChatRequest, s: Shared) -> dict:
    async with s.chat_locks.hold(case_id):
        return await s.chat.run(s.pool, s.store, case_id, request.question)


@chat.post(
    "/{case_id}/chat/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": SSE_DESCRIPTION}},
)
async def ask_streaming(case_id: str, request: ChatRequest, s: Shared) -> StreamingResponse:
    """The answer as server-sent events: `token` pieces as they are generated, then `done`
    with what `POST /chat` answers (or one `error`)."""
    s.case_or_404(case_id)
    if s.chat.heavy:
        s.pool.check()  # a full queue answers 503 before the stream starts
    events = stream_answer(s.chat, s.pool, s.store, s.chat_locks, case_id, request.question)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


@chat.get("/{case_id}/chat")
async def chat_history(case_id: str, s: Shared) -> dict:
    s.case_or_404(case_id)
    return {"turns": [vars(t) for t in s.store.turns(case_id)]}


ROUTERS = (system, analysis, cases, chat)


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
