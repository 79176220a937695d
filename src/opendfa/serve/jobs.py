"""The server's work, as plain functions run on the bounded worker or a thread: analyse an
upload and store it, render a view or the HTML report, answer a chat question.

The forensic maps of a stored case (`map_views`, `render_noise_map`): the server does not keep
the upload (it is deleted once analysed), only a preview re-saved as JPEG for display. The
analysis's own ELA and noise summaries of the uploaded file are in the report
(`forensics.maps`); as images, ELA is not offered (the ELA of the re-saved preview would show
that re-save, not the file's history) and the noise residual is computed from the stored
preview and labelled so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
from fastapi import HTTPException

from opendfa.evidence.html import PREVIEW_SIDE, preview_views, render_html
from opendfa.evidence.pipeline import Analyzer
from opendfa.explain import Conversation, Turn
from opendfa.explain.backends import Backend
from opendfa.explain.grounded import GroundedBackend
from opendfa.media import VIDEO_SUFFIXES, MediaError, sniff_file
from opendfa.media.budget import DEFAULT_MAX_DECODED_FRAMES, BudgetExceeded, WorkBudget
from opendfa.serve.budget import (
    DEFAULT_FRAME_MEMORY,
    DecodeCost,
    frames_within,
    image_cost,
    video_cost,
)
from opendfa.serve.uploads import Upload
from opendfa.store import Case, CaseStore, NewTurn
from opendfa.store.cases import PREVIEW_MAX_SIDE, PREVIEW_QUALITY

VIEWS = ("image", "overlay", "mask")
ELA_NOT_OFFERED = (
    "not offered: error level analysis needs the uploaded file, and this server keeps only a "
    "preview it re-saved as JPEG for display, whose ELA would show that re-save rather than "
    "the file's history. The ELA numbers of the uploaded file, from its analysis, are in the "
    "report (forensics.maps)."
)


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int
    decode_budget: int
    video_frames: int
    analysis_seconds: float | None = 60.0
    max_decoded_frames: int = DEFAULT_MAX_DECODED_FRAMES
    frame_memory: int = DEFAULT_FRAME_MEMORY  # samples of video frames held at once

    def budget(self) -> WorkBudget:
        """A fresh budget for one analysis (its clock restarts when the worker takes it)."""
        return WorkBudget(
            max_seconds=self.analysis_seconds, max_decoded_frames=self.max_decoded_frames
        )


def analyse_upload(
    analyzer: Analyzer, store: CaseStore, upload: Upload, limits: Limits, budget: WorkBudget
) -> Case:
    """Check against the decode budget, analyse within `budget` and store one received
    upload. The time limit counts from here, not from when the upload was queued."""
    budget.started = time.monotonic()
    budget.check()  # cancelled while it waited in the queue
    if upload.size == 0:
        raise HTTPException(400, "the upload is empty")
    try:
        if _is_video(upload):
            report = _analyse_video(analyzer, upload, limits, budget)
        else:
            data = upload.path.read_bytes()
            _within_budget(image_cost(data), limits.decode_budget)
            report = analyzer.analyze_image(data, budget=budget)
    except BudgetExceeded as err:
        raise HTTPException(422, err.reason) from None
    except MediaError as err:
        raise HTTPException(413 if "limit" in err.reason else 422, err.reason) from None
    report.input.path = upload.name
    return store.add(report, input_name=upload.name)


def _is_video(upload: Upload) -> bool:
    """What the bytes are decides, not the name (which may be cut, missing or wrong)."""
    found = sniff_file(upload.path)
    if found is not None:
        return found[0] == "video"
    return upload.path.suffix in VIDEO_SUFFIXES  # unknown content: the loader says why


def _analyse_video(analyzer: Analyzer, upload: Upload, limits: Limits, budget: WorkBudget):
    """A video within the decode budget, sampling fewer frames where they are large (the
    sampler holds several at once); the report says so."""
    cost = video_cost(upload.path)
    _within_budget(cost, limits.decode_budget)
    frames = frames_within(cost, limits.video_frames, limits.frame_memory)
    report = analyzer.analyze_video(upload.path, num_frames=frames, budget=budget)
    if frames < limits.video_frames:
        report.warnings.append(
            f"{frames} frames sampled instead of {limits.video_frames}: the frames are large "
            f"({cost.width}x{cost.height}) and this server bounds the memory one analysis holds"
        )
    return report


def _within_budget(cost: DecodeCost | None, budget: int) -> None:
    reason = None if cost is None else cost.over(budget)
    if reason is not None:
        raise HTTPException(413, reason)


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


def map_views(store: CaseStore, case_id: str) -> dict | None:
    """Which forensic maps the case offers as images, computed from what, with the analysis's
    own summaries of the uploaded file's maps; None without such a case."""
    case = store.get(case_id)
    if case is None:
        return None
    record = case.report.get("forensics") or {}
    noise: dict = {"url": None, "source": None, "note": None}
    if case.kind != "image":
        noise["note"] = "not offered: the file checks and their maps are made for images"
    else:
        noise.update(
            url=f"/api/cases/{case_id}/noise.png",
            source="stored_preview",
            note=preview_source(case),
        )
    return {
        "summary": record.get("maps"),  # of the uploaded file, from its analysis
        "ela": {"url": None, "source": None, "note": ELA_NOT_OFFERED},
        "noise": noise,
    }


def preview_source(case: Case) -> str:
    """One line: the stored preview a map of this case is computed from."""
    width, height = case.preview_width, case.preview_height
    if width and height:  # stores of schema 4 on: a JPEG of at most PREVIEW_MAX_SIDE
        scale = min(1.0, PREVIEW_MAX_SIDE / max(width, height))
        stored = f"{max(1, round(width * scale))}x{max(1, round(height * scale))}"
        resized = f", downscaled from {width}x{height}" if scale < 1 else ""
        copy = f" ({stored}{resized}), a copy the server re-saved as JPEG quality {PREVIEW_QUALITY}"
    else:  # older stores kept other copies: say only what is sure
        copy = ", a copy the server stored"
    return (
        f"computed from the stored preview{copy} for display, not from the uploaded file: "
        "the re-save (and any downscaling) weakens and blurs the noise and adds JPEG blocks, "
        "so compare regions of this map with each other, not with other images"
    )


def render_noise_map(store: CaseStore, case_id: str) -> bytes | None:
    """PNG of the noise residual of the case's stored preview (at most PREVIEW_SIDE), coloured
    as the HTML report colours it; None for a video or without a preview."""
    from opendfa.forensics.maps import colourize, forensic_maps

    case = store.get(case_id)
    if case is None or case.kind != "image":
        return None
    rgb = store.preview(case_id)
    if rgb is None:
        return None
    # The store gives the preview back at the analysed size: compute at the stored size.
    scale = min(1.0, PREVIEW_MAX_SIDE / max(rgb.shape[:2]))
    if scale < 1:
        size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    values = forensic_maps(rgb).noise  # as the analysis computes it (size cap, tiny images)
    shown = min(1.0, PREVIEW_SIDE / max(values.shape))
    if shown < 1:
        size = (max(1, round(values.shape[1] * shown)), max(1, round(values.shape[0] * shown)))
        values = cv2.resize(values, size, interpolation=cv2.INTER_AREA)
    _, png = cv2.imencode(".png", cv2.cvtColor(colourize(values), cv2.COLOR_RGB2BGR))
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
