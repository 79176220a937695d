"""Face reenactment: the target keeps its identity while its expression or pose changes.

The target's own pixels are moved by a mesh warp from its landmarks to new ones: either
scripted actions (mouth opening, smile, blink, small head turn) or the expression of a
driving face, transferred after similarity alignment. A newly opened mouth is inpainted with
a shaded mouth interior and a row of upper teeth, as talking-head generators produce.

The warp implementation (`warp.WARPS`: mesh, thin-plate spline, moving least squares affine or
similarity) and the resampling filter (`warp.RESAMPLING`) are drawn per sample; action
strengths are drawn log-uniformly, from barely visible to strong.

Technique name: `opendfa.reenact.<warp>.<action>+<action>` (e.g. `opendfa.reenact.tps.
blink+smile`) or `opendfa.reenact.<warp>.driven`; params hold `warp`, `resample`, the
actions' strengths (or the drive strength) and `flow_max_px`. The forgery's `flow` is the
warp's, scaled by the mask where the warp is blended in faintly (a blend of a pixel and its
neighbour at weight m is, to first order, a shift by m times the distance), and zero in a
newly opened mouth, whose pixels are painted, not moved.
"""

from __future__ import annotations

import cv2
import numpy as np

from opendfa.faces import mesh
from opendfa.forge.core import FaceImage, Forgery, ForgeryError, register_forgery
from opendfa.forge.geometry import FaceFrame, gaussian_weights, log_uniform
from opendfa.forge.warp import (
    WARP_RESAMPLING,
    WARPS,
    anchor_ring,
    composite,
    feather,
    flow_magnitude,
    polygon_mask,
    warp_in_place,
)
from opendfa.taxonomy import FACE_REENACTMENT

ACTIONS = ("mouth_open", "smile", "blink", "head_turn")
_LOWER_LIP = (146, 91, 181, 84, 17, 314, 405, 321, 375, 95, 88, 178, 87, 14, 317, 402, 318, 324)
_RIGHT_UPPER_LID = (246, 161, 160, 159, 158, 157, 173)
_RIGHT_LOWER_LID = (7, 163, 144, 145, 153, 154, 155)
_LEFT_UPPER_LID = (466, 388, 387, 386, 385, 384, 398)
_LEFT_LOWER_LID = (249, 390, 373, 374, 380, 381, 382)
_EXPRESSION_POINTS = sorted(
    set(mesh.LIPS_OUTER) | set(mesh.LIPS_INNER) | set(mesh.LEFT_EYE) | set(mesh.RIGHT_EYE)
    | set(mesh.LEFT_EYEBROW) | set(mesh.RIGHT_EYEBROW) | set(_LOWER_LIP)
)  # fmt: skip


def scripted_landmarks(landmarks: np.ndarray, actions: dict[str, float]) -> np.ndarray:
    """New landmark positions after the given actions with their strengths."""
    frame = FaceFrame.of(landmarks)
    local = frame.to_local(landmarks)
    moved = landmarks[:, :2].astype(np.float64).copy()
    if "mouth_open" in actions:
        moved += frame.shift(0.0, _jaw_drop(local, actions["mouth_open"]))
    if "smile" in actions:
        amount = actions["smile"]
        for corner, side in ((mesh.MOUTH_RIGHT_CORNER, -1.0), (mesh.MOUTH_LEFT_CORNER, 1.0)):
            weight = gaussian_weights(local, tuple(local[corner]), 0.22)
            moved += frame.shift(side * 0.5 * amount * weight, -amount * weight)
    if "blink" in actions:
        for upper, lower in (
            (_RIGHT_UPPER_LID, _RIGHT_LOWER_LID),
            (_LEFT_UPPER_LID, _LEFT_LOWER_LID),
        ):
            gap = local[list(lower), 1].mean() - local[list(upper), 1].mean()
            moved[list(upper)] += frame.shift(0.0, actions["blink"] * 0.85 * gap)
    if "head_turn" in actions:
        depth = landmarks[:, 2].astype(np.float64) / frame.unit
        nearness = (depth.max() - depth) / max(float(np.ptp(depth)), 1e-6)
        moved += frame.shift(actions["head_turn"] * nearness, 0.0)
    return moved


def _jaw_drop(local: np.ndarray, amount: float) -> np.ndarray:
    """Downward shift of each point when the jaw opens by `amount` (eye-distance units).

    The lower lip bends open like a real mouth (most in the middle, not at the corners);
    the chin and jaw follow, fading out sideways.
    """
    corners = local[[mesh.MOUTH_RIGHT_CORNER, mesh.MOUTH_LEFT_CORNER]]
    centre_x, corner_y = corners[:, 0].mean(), corners[:, 1].mean()
    half_width = max(abs(corners[1, 0] - corners[0, 0]) / 2, 1e-3)
    lip_bottom = local[mesh.LOWER_LIP_BOTTOM, 1]
    across = np.clip(1 - ((local[:, 0] - centre_x) / half_width) ** 2, 0, 1) ** 0.8
    sideways = np.exp(-0.5 * ((local[:, 0] - centre_x) / 0.6) ** 2)
    depth = np.clip((local[:, 1] - corner_y) / max(lip_bottom - corner_y, 1e-3), 0, 1)
    drop = amount * sideways * depth  # skin and jaw below the mouth line
    lower_lip = list(_LOWER_LIP)
    drop[lower_lip] = amount * across[lower_lip]
    return drop


def driven_landmarks(target: np.ndarray, driver: np.ndarray, strength: float) -> np.ndarray:
    """Target landmarks with the driver's expression (eyes, brows, lips) moved in."""
    target_frame, driver_frame = FaceFrame.of(target), FaceFrame.of(driver)
    driver_in_target = target_frame.to_image(driver_frame.to_local(driver))
    moved = target[:, :2].astype(np.float64).copy()
    # Keep the target's feature placement: move each group by the driver's shape *change*
    # relative to the group's centre, not by the driver's absolute positions.
    for group in (
        mesh.LIPS_OUTER + mesh.LIPS_INNER,
        mesh.LEFT_EYE,
        mesh.RIGHT_EYE,
        mesh.LEFT_EYEBROW,
        mesh.RIGHT_EYEBROW,
    ):
        idx = list(group)
        offset = moved[idx].mean(0) - driver_in_target[idx].mean(0)
        moved[idx] += strength * (driver_in_target[idx] + offset - moved[idx])
    return moved


def inpaint_mouth(
    image: np.ndarray, landmarks_after: np.ndarray, opened: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Shade the newly opened mouth: upper teeth under the lip, a dark throat, a red tongue.

    The interior is shaded with vertical and sideways gradients (darker in the middle and
    toward the corners) so it reads as a cavity, not a painted bar.
    """
    if opened.sum() < 4:
        return image.copy()
    ys, xs = np.nonzero(opened)
    top, bottom = int(ys.min()), int(ys.max()) + 1
    left, right = int(xs.min()), int(xs.max()) + 1
    lips = polygon_mask(landmarks_after[list(mesh.LIPS_OUTER)], image.shape[:2]) & ~opened
    lip = image[lips].mean(0) if lips.any() else np.array([150.0, 70.0, 70.0])
    teeth = np.array([214.0, 206.0, 190.0]) * rng.uniform(0.75, 0.92)
    throat = lip * rng.uniform(0.3, 0.42)
    tongue = lip * rng.uniform(0.65, 0.8)
    teeth_end = rng.uniform(0.22, 0.35)
    rows = (np.arange(top, bottom) - top + 0.5) / max(bottom - top, 1)
    cols = (np.arange(left, right) - left + 0.5) / max(right - left, 1)
    down = np.clip((rows - teeth_end) / (1 - teeth_end), 0, 1)[:, None]
    interior = np.where(
        rows[:, None] < teeth_end,
        teeth * (1 - 0.25 * rows[:, None] / teeth_end),
        throat * (1 - down) + tongue * down * down + throat * down * (1 - down),
    )
    shade = (1 - 0.45 * (2 * cols - 1) ** 2)[None, :, None]
    canvas = image.astype(np.float32).copy()
    canvas[top:bottom, left:right] = interior[:, None, :] * shade
    canvas = cv2.GaussianBlur(canvas, (0, 0), 0.8)
    return composite(image, canvas, feather(opened, 2.0))


@register_forgery("face_reenactment", FACE_REENACTMENT)
def face_reenactment(
    target: FaceImage,
    source: FaceImage | None,
    rng: np.random.Generator,
    *,
    actions: dict[str, float] | None = None,
    drive_strength: float | None = None,
    warp: str | None = None,
    resample: str | None = None,
) -> Forgery:
    """Scripted actions by default; with a driving `source` face, its expression.

    `warp` and `resample` are drawn at random when left as None.
    """
    if target.face.width < 32:
        raise ForgeryError("faces smaller than 32 px cannot be reenacted convincingly")
    landmarks = target.face.landmarks
    params: dict = {}
    if source is not None and actions is None:
        strength = float(rng.uniform(0.3, 1.0)) if drive_strength is None else drive_strength
        moved = driven_landmarks(landmarks, source.face.landmarks, strength)
        params.update(mode="driven", drive_strength=round(strength, 4))
        operations = "driven"
    else:
        actions = actions or _random_actions(rng)
        moved = scripted_landmarks(landmarks, actions)
        params.update(mode="scripted", actions={k: round(v, 4) for k, v in actions.items()})
        operations = "+".join(sorted(actions))
    warp = warp or str(rng.choice(WARPS))
    resample = resample or str(rng.choice(WARP_RESAMPLING))
    if warp not in WARPS or resample not in WARP_RESAMPLING:
        raise ForgeryError(f"unknown warp {warp!r} or resampling filter {resample!r}")
    params.update(warp=warp, resample=resample)
    technique = f"opendfa.reenact.{warp}.{operations}"
    shape = target.rgb.shape[:2]
    warped, flow = warp_in_place(
        target.rgb,
        landmarks,
        moved,
        anchor_ring(landmarks, shape),
        method=warp,
        interpolation=resample,
    )
    mask = np.clip(flow_magnitude(flow) / 0.75, 0.0, 1.0).astype(np.float32)
    flow *= mask[..., None]  # composited at the mask's weight: see the module
    before = polygon_mask(landmarks[list(mesh.LIPS_INNER)], shape)
    after = polygon_mask(moved[list(mesh.LIPS_INNER)], shape)
    opened = after & ~before
    if opened.sum() > 4:
        warped = inpaint_mouth(warped, moved, opened, rng)
        mask = np.maximum(mask, feather(opened, 1.5))
        flow[opened] = 0.0
    image = composite(target.rgb, warped, mask)
    if float((mask > 0.5).sum()) < 20:
        raise ForgeryError("the requested change is too small to see")
    params["flow_max_px"] = round(float(flow_magnitude(flow).max()), 2)
    return Forgery(
        image=image,
        mask=mask,
        category=FACE_REENACTMENT,
        technique=technique,
        target_identity=target.identity,
        source_identity=source.identity
        if source is not None and params["mode"] == "driven"
        else None,
        params=params,
        flow=flow,
    )


def _random_actions(rng: np.random.Generator) -> dict[str, float]:
    count = int(rng.integers(1, 3))
    chosen = [str(name) for name in rng.choice(ACTIONS, size=count, replace=False)]
    ranges = {  # log-uniform: as many subtle changes as strong ones
        "mouth_open": (0.05, 0.32),
        "smile": (0.02, 0.16),
        "blink": (0.3, 1.0),
        "head_turn": (0.02, 0.12),
    }
    actions = {name: log_uniform(rng, *ranges[name]) for name in chosen}
    if "head_turn" in actions and rng.random() < 0.5:
        actions["head_turn"] = -actions["head_turn"]
    return actions
