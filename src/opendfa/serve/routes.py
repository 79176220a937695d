"""The HTTP routes, one `APIRouter` per concern: the page and health, analysis, cases (with
their views and reports), chat. Each route takes the shared `Services` (built once by
`create_app`) through a dependency, so no route is a closure over the app."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from opendfa import __version__
from opendfa.media.budget import WorkBudget
from opendfa.serve.chat import stream_answer
from opendfa.serve.config import Services
from opendfa.serve.guard import sign_link
from opendfa.serve.jobs import (
    VIEWS,
    analyse_upload,
    map_views,
    render_noise_map,
    render_report,
    render_view,
)
from opendfa.serve.uploads import ClientGone, receive_upload

T = TypeVar("T")
log = logging.getLogger("opendfa.serve")

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
DISCONNECT_POLL_S = 0.25  # how often a waiting upload asks whether its client is still there
MAX_OFFSET = 1_000_000_000  # beyond any store, and far inside SQLite's 64-bit integers
MAP_SOURCE = "X-OpenDFA-Map-Source"  # what a forensic map image was computed from
MAP_RENDERERS = {"noise": render_noise_map}  # maps offered as images (ELA is not: see jobs)
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


@system.get("/static/{name}", include_in_schema=False)
async def asset(name: str) -> Response:
    """The page's script and style (files, so the content policy needs no inline code)."""
    if name not in ASSETS:
        raise HTTPException(404, "no such file")
    return Response((STATIC / name).read_bytes(), media_type=ASSETS[name])


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
        "store": {
            "bytes": s.store.usage(),
            "max_bytes": s.store.max_bytes,
            "keep_days": s.config.keep_days,
        },
        "uploads": {"temp_bytes": s.spool.used, "max_temp_bytes": s.spool.max_bytes},
        "analysis": {
            "max_seconds": s.limits.analysis_seconds,
            "max_decoded_frames": s.limits.max_decoded_frames,
        },
    }


# ----------------------------------------------------------------------------- analysis

analysis = APIRouter()


@analysis.post("/api/analyze", status_code=201, openapi_extra=UPLOAD_BODY)
async def analyze(request: Request, s: Shared) -> dict:
    """The upload holds a queue slot from its first byte (503 when none is left, 507 when
    the store is full, both before the body is read), is received into `<data>/tmp/` and
    analysed within its budget; a client that leaves cancels its analysis."""
    s.expire()
    s.check_room()
    with s.pool.reserve() as slot:
        cfg = s.config
        received = await receive_upload(
            request, s.spool, cfg.max_upload_bytes, cfg.upload_seconds, s.pool.retry_after()
        )
        try:
            budget = s.limits.budget()
            upload = received.upload()
            job = s.pool.submit(
                analyse_upload, s.analyzer, s.store, upload, s.limits, budget, slot=slot
            )
            case = await until_done(job, request, budget)
        finally:
            received.discard()
    return {"case": case.summary(), "report": case.report}


async def until_done(job: Future[T], request: Request, budget: WorkBudget) -> T:
    """The job's result; while waiting, a client that disconnects cancels the job (at once
    if it has not started, else at its next budget check) and frees its slot."""
    waiting = asyncio.wrap_future(job)
    while True:
        done, _ = await asyncio.wait({waiting}, timeout=DISCONNECT_POLL_S)
        if done:
            break
        if not budget.cancel.is_set() and await request.is_disconnected():
            budget.cancel.set()
            job.cancel()  # succeeds only while it is still queued
            log.warning("client disconnected: its analysis is cancelled")
    if budget.cancel.is_set():
        raise ClientGone
    return waiting.result()


# ----------------------------------------------------------------------------- cases

cases = APIRouter(prefix="/api/cases")


@cases.get("")
async def list_cases(
    s: Shared,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict:
    s.expire()
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


@cases.get("/{case_id}/maps")
async def forensic_maps(case_id: str, s: Shared) -> dict:
    """The forensic maps this case offers as images and what each is computed from: the
    server does not keep uploads, so ELA is not offered and the noise residual comes from the
    stored preview (`url`, `source`, `note` per map); `summary` holds the analysis's own
    numbers of the uploaded file's maps (null for a video or an older report)."""
    views = map_views(s.store, case_id)
    if views is None:
        raise HTTPException(404, f"no case {case_id}")
    return views


@cases.get("/{case_id}/ela.png", responses={404: {"description": "not offered: see /maps"}})
async def ela_png(case_id: str, s: Shared) -> Response:
    """Not offered for a stored case (the 404 says why): ELA needs the uploaded file, which
    the server does not keep."""
    return await _map_png(case_id, "ela", s)


@cases.get("/{case_id}/noise.png", responses={200: {"content": {"image/png": {}}}})
async def noise_png(case_id: str, s: Shared) -> Response:
    """The noise residual of the stored preview, not of the uploaded file (see /maps), with
    the header `X-OpenDFA-Map-Source: stored_preview`."""
    return await _map_png(case_id, "noise", s)


async def _map_png(case_id: str, name: str, s: Services) -> Response:
    views = map_views(s.store, case_id)
    if views is None:
        raise HTTPException(404, f"no case {case_id}")
    offer = views[name]
    render = MAP_RENDERERS.get(name)
    if offer["url"] is None or render is None:
        raise HTTPException(404, offer["note"])
    png = await s.rendered(case_id, name, lambda: render(s.store, case_id))
    return Response(png, media_type="image/png", headers={MAP_SOURCE: offer["source"]})


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
