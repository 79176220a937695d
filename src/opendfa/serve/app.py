"""The FastAPI application: upload, analyse, store, fetch views, chat, list and delete cases.

Limits are enforced before any decoding: the upload is read in chunks and refused past
`max_upload_bytes` (413), images are refused past `max_pixels` from their header (413), and
anything that is not a readable image or video gets a 422 with the loader's one-line reason.
With an API key configured, every `/api/` route except `/api/health` needs it, in the
`X-API-Key` header or as `Authorization: Bearer KEY`.
"""

from __future__ import annotations

import hmac
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import cv2
import numpy as np
from fastapi import Depends, FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from opendfa import __version__
from opendfa.evidence.html import preview_views, render_html
from opendfa.evidence.pipeline import Analyzer
from opendfa.explain import Conversation, Turn
from opendfa.media import VIDEO_SUFFIXES, MediaError
from opendfa.store import CaseStore

STATIC = Path(__file__).resolve().parent / "static"
CHUNK = 1 << 20


@dataclass
class ServerConfig:
    data_dir: Path = Path("opendfa-data")
    model: str = "opendfa-lite0"
    api_key: str | None = None
    max_upload_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 50_000_000
    video_frames: int = 16
    device: str = "cpu"


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
    analysis_lock = threading.Lock()  # MediaPipe graphs and the detector: one at a time
    app = FastAPI(
        title="OpenDFA",
        version=__version__,
        description="Interactive deepfake analysis: upload a face image or video, read the "
        "verdict, see where, and ask why.",
    )
    app.state.analyzer, app.state.store, app.state.config = analyzer, store, config

    def require_key(request: Request) -> None:
        if not config.api_key:
            return
        given = request.headers.get("x-api-key") or ""
        auth = request.headers.get("authorization") or ""
        if auth.lower().startswith("bearer "):
            given = given or auth[7:].strip()
        if not hmac.compare_digest(given.encode(), config.api_key.encode()):
            raise HTTPException(401, "missing or wrong API key")

    guarded = [Depends(require_key)]

    def case_or_404(case_id: str):
        case = store.get(case_id)
        if case is None:
            raise HTTPException(404, f"no case {case_id}")
        return case

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "detector": analyzer.model_info.detector,
            "weights_sha256": analyzer.model_info.weights_sha256,
            "auth": bool(config.api_key),
        }

    @app.post("/api/analyze", status_code=201, dependencies=guarded)
    def analyze(file: Annotated[UploadFile, File(description="image or video")]) -> dict:
        name = Path(file.filename or "upload").name[:200] or "upload"
        suffix = Path(name).suffix.lower()
        data = _read_limited(file, config.max_upload_bytes)
        if not data:
            raise HTTPException(400, "the upload is empty")
        try:
            with analysis_lock:
                if suffix in VIDEO_SUFFIXES:
                    report = _analyze_video(analyzer, data, suffix, config.video_frames)
                else:
                    report = analyzer.analyze_image(data)
        except MediaError as err:
            status = 413 if "limit" in err.reason else 422
            raise HTTPException(status, err.reason) from None
        report.input.path = name
        case = store.add(report, input_name=name)
        return {"case": case.summary(), "report": case.report}

    @app.get("/api/cases", dependencies=guarded)
    def list_cases(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict:
        return {
            "total": store.count(),
            "cases": [case.summary() for case in store.list(limit, offset)],
        }

    @app.get("/api/cases/{case_id}", dependencies=guarded)
    def get_case(case_id: str) -> dict:
        case = case_or_404(case_id)
        turns = [vars(t) for t in store.turns(case_id)]
        return {"case": case.summary(), "report": case.report, "turns": turns}

    @app.delete("/api/cases/{case_id}", status_code=204, dependencies=guarded)
    def delete_case(case_id: str) -> Response:
        if not store.delete(case_id):
            raise HTTPException(404, f"no case {case_id}")
        return Response(status_code=204)

    @app.get(
        "/api/cases/{case_id}/{view}.png",
        dependencies=guarded,
        responses={200: {"content": {"image/png": {}}}},
    )
    def view_png(case_id: str, view: str) -> Response:
        if view not in ("image", "overlay", "mask"):
            raise HTTPException(404, "views: image, overlay, mask")
        case_or_404(case_id)
        views = preview_views(store.report(case_id))
        if views is None:
            raise HTTPException(404, "this case has no image to show")
        if view == "mask":
            picture = np.round(views.heat * 255).astype(np.uint8)
        else:
            picture = cv2.cvtColor(
                views.boxed if view == "image" else views.overlay, cv2.COLOR_RGB2BGR
            )
        _, png = cv2.imencode(".png", picture)
        return Response(png.tobytes(), media_type="image/png")

    @app.get("/api/cases/{case_id}/report.html", response_class=HTMLResponse, dependencies=guarded)
    def report_html(case_id: str) -> HTMLResponse:
        case_or_404(case_id)
        return HTMLResponse(render_html(store.report(case_id)))

    @app.post("/api/cases/{case_id}/chat", dependencies=guarded)
    def chat(case_id: str, request: ChatRequest) -> dict:
        case_or_404(case_id)
        conversation = Conversation(store.report(case_id))
        conversation.history = [
            Turn(t.role, t.text, t.intent, t.backend, t.created, t.facts)
            for t in store.turns(case_id)
        ]
        reply = conversation.ask(request.question)
        asked = conversation.history[-2]
        store.add_turn(case_id, "user", asked.text, intent=asked.intent)
        store.add_turn(
            case_id,
            "assistant",
            reply.text,
            intent=reply.intent,
            backend=conversation.backend.name,
            facts=reply.facts,
        )
        return {
            "answer": reply.text,
            "intent": reply.intent,
            "facts": reply.facts,
            "attachments": reply.attachments,
        }

    @app.get("/api/cases/{case_id}/chat", dependencies=guarded)
    def chat_history(case_id: str) -> dict:
        case_or_404(case_id)
        return {"turns": [vars(t) for t in store.turns(case_id)]}

    @app.exception_handler(ValueError)
    def value_error(request: Request, err: ValueError) -> JSONResponse:
        return JSONResponse({"detail": " ".join(str(err).split())[:300]}, status_code=422)

    return app


def _read_limited(file: UploadFile, limit: int) -> bytes:
    chunks, size = [], 0
    while chunk := file.file.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"upload exceeds the {limit // (1024 * 1024)} MB limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _analyze_video(analyzer: Analyzer, data: bytes, suffix: str, frames: int):
    """Videos are decoded from a temporary file (OpenCV reads files, not bytes)."""
    with tempfile.TemporaryDirectory(prefix="opendfa-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        return analyzer.analyze_video(path, num_frames=frames)
