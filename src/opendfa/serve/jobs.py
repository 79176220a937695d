"""The server's work, as plain functions run on the bounded worker or a thread: analyse an
upload and store it, render a view or the HTML report, answer a chat question."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from fastapi import HTTPException

from opendfa.evidence.html import preview_views, render_html
from opendfa.evidence.pipeline import Analyzer
from opendfa.explain import Conversation, Turn
from opendfa.explain.backends import Backend
from opendfa.explain.grounded import GroundedBackend
from opendfa.media import VIDEO_SUFFIXES, MediaError
from opendfa.serve.budget import DecodeCost, image_cost, video_cost
from opendfa.store import Case, CaseStore, NewTurn

CHUNK = 1 << 20
VIEWS = ("image", "overlay", "mask")


@dataclass
class Upload:
    """A received file: Starlette spooled it (memory up to 1 MB, then a temporary file), so
    only the job that analyses it holds its bytes in memory."""

    name: str
    file: BinaryIO


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int
    decode_budget: int
    video_frames: int


def analyse_upload(analyzer: Analyzer, store: CaseStore, upload: Upload, limits: Limits) -> Case:
    """Read, check against the decode budget, analyse and store one upload."""
    data = read_limited(upload.file, limits.max_upload_bytes)
    if not data:
        raise HTTPException(400, "the upload is empty")
    suffix = Path(upload.name).suffix.lower()
    try:
        if suffix in VIDEO_SUFFIXES:
            report = _analyse_video(analyzer, data, suffix, limits)
        else:
            _within_budget(image_cost(data), limits.decode_budget)
            report = analyzer.analyze_image(data)
    except MediaError as err:
        raise HTTPException(413 if "limit" in err.reason else 422, err.reason) from None
    report.input.path = upload.name
    return store.add(report, input_name=upload.name)


def read_limited(file: BinaryIO, limit: int) -> bytes:
    chunks, size = [], 0
    file.seek(0)
    while chunk := file.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"upload exceeds the {limit // (1024 * 1024)} MB limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _within_budget(cost: DecodeCost | None, budget: int) -> None:
    reason = None if cost is None else cost.over(budget)
    if reason is not None:
        raise HTTPException(413, reason)


def _analyse_video(analyzer: Analyzer, data: bytes, suffix: str, limits: Limits):
    """Videos are decoded from a temporary file (OpenCV reads files, not bytes)."""
    with tempfile.TemporaryDirectory(prefix="opendfa-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        _within_budget(video_cost(path), limits.decode_budget)
        return analyzer.analyze_video(path, num_frames=limits.video_frames)


def render_view(store: CaseStore, case_id: str, view: str) -> bytes | None:
    """PNG of one view (faces boxed, heatmap overlay, mask); None without a preview."""
    report = store.report(case_id)
    views = None if report is None else preview_views(report)
    if views is None:
        return None
    if view == "mask":
        picture = np.round(views.heat * 255).astype(np.uint8)
    else:
        rgb = views.boxed if view == "image" else views.overlay
        picture = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    _, png = cv2.imencode(".png", picture)
    return png.tobytes()


def render_report(store: CaseStore, case_id: str) -> bytes | None:
    report = store.report(case_id)
    return None if report is None else render_html(report).encode("utf-8")


def converse(
    store: CaseStore,
    case_id: str,
    question: str,
    backend: Backend | None = None,
    *,
    with_image: bool = False,
) -> dict:
    """Answer one question with the stored history and store the question and answer
    together; the caller holds the case's lock, so turns keep the order they were asked in.
    `backend` defaults to grounded answers, which need no image; a model that looks at the
    face needs `with_image`."""
    case = store.get(case_id)
    if case is None:
        raise HTTPException(404, f"no case {case_id}")
    report = case.to_report(store.preview(case_id) if with_image else None)
    conversation = Conversation(report, backend=backend or GroundedBackend())
    conversation.history = [
        Turn(t.role, t.text, t.intent, t.backend, t.created, t.facts) for t in store.turns(case_id)
    ]
    reply = conversation.ask(question)
    asked = conversation.history[-2]
    store.add_turns(
        case_id,
        [
            NewTurn("user", asked.text, asked.intent),
            NewTurn(
                "assistant", reply.text, reply.intent, conversation.backend.name, reply.facts or {}
            ),
        ],
    )
    return {
        "answer": reply.text,
        "intent": reply.intent,
        "facts": reply.facts,
        "attachments": reply.attachments,
        "backend": conversation.backend.name,
    }
