"""Face editing: local attribute changes, each confined to a feathered region mask.

Operations (one to three per sample): eye size, smile (mouth corners), lip colour, skin
smoothing, aging texture, eyebrow shape, nose width and sharpening. Geometric edits
(`GEOMETRIC_EDITS`) move the face with one implementation per sample: a landmark warp from
`warp.WARPS` (mesh, thin-plate spline, moving least squares affine/similarity), or a
liquify brush from `warp.LOCAL_WARPS` when every geometric edit of the sample can be made
with it (`BRUSHES`: bulge/pinch for eye size and nose width, push for smile and eyebrows,
twirl for the eyebrows' tilt); and one resampling filter from `warp.WARP_RESAMPLING` (OpenCV,
scikit-image or SciPy). Appearance edits recolour or retexture pixels inside a region, with a
filter drawn from `retouch.SMOOTHING_FILTERS` or `retouch.RECOLOURS`. Strengths are drawn
log-uniformly, from barely visible to strong. The mask is the union of what each operation
changed; the geometric edits' flows are chained into the forgery's `flow`.

Technique name: `opendfa.edit.<warp>.<op>+<op>` when a geometric edit is present (e.g.
`opendfa.edit.tps.eye_size+lip_colour`), else `opendfa.edit.<op>+<op>`; operations sorted and
last, where `instruct.describe.operations` reads them. The params hold `edits` (each
operation's own values: `brush`, `filter`, `method`, strengths), `warp`, `resample` and
`flow_max_px`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from opendfa.faces import mesh
from opendfa.faces.regions import region_masks
from opendfa.forge.core import FaceImage, Forgery, ForgeryError, register_forgery
from opendfa.forge.geometry import FaceFrame, gaussian_weights, log_uniform
from opendfa.forge.retouch import (
    RECOLOURS,
    SMOOTHING_FILTERS,
    recolour,
    recolour_params,
    sharpen_params,
    smooth,
    smoothing_params,
    unsharp_mask,
)
from opendfa.forge.warp import (
    LOCAL_WARPS,
    WARP_RESAMPLING,
    WARPS,
    anchor_ring,
    bulge_in_place,
    compose_flows,
    composite,
    feather,
    flow_magnitude,
    no_flow,
    polygon_mask,
    push_in_place,
    twirl_in_place,
    warp_in_place,
)
from opendfa.taxonomy import FACE_EDITING

GEOMETRIC_EDITS = ("eye_size", "smile", "eyebrow_shape", "nose_width")
BRUSHES = {  # the liquify brushes that can make each geometric edit
    "eye_size": ("bulge", "pinch"),
    "nose_width": ("bulge", "pinch"),
    "smile": ("push",),
    "eyebrow_shape": ("push", "twirl"),
}


@dataclass(frozen=True)
class EditStyle:
    """How a sample's edits are made: warp (or brush), resampler, and forced filter choices
    (None: each appearance edit draws its own)."""

    warp: str = "mesh"
    resample: str = "linear"
    smoothing: str | None = None
    recolour: str | None = None


@dataclass
class EditResult:
    """One operation's output: image, float mask, values, and its backward flow if it warped."""

    image: np.ndarray
    mask: np.ndarray
    params: dict
    flow: np.ndarray | None = None


def warp_choices(geometric: list[str]) -> tuple[str, ...]:
    """Landmark warps, plus the brushes that can make every one of these geometric edits."""
    brushes = tuple(b for b in LOCAL_WARPS if all(b in BRUSHES[n] for n in geometric))
    return WARPS + brushes


def _geometric(
    image: np.ndarray, landmarks: np.ndarray, moved: np.ndarray, style: EditStyle, params: dict
) -> EditResult:
    warped, flow = warp_in_place(
        image,
        landmarks,
        moved,
        anchor_ring(landmarks, image.shape[:2]),
        method=style.warp,
        interpolation=style.resample,
    )
    return EditResult(warped, _displacement_mask(flow), params, flow)


def _displacement_mask(flow: np.ndarray) -> np.ndarray:
    return np.clip(flow_magnitude(flow) / 0.75, 0, 1).astype(np.float32)


def _brushed(image: np.ndarray, strokes: list[Callable], params: dict) -> EditResult:
    """Apply brush strokes (image -> (image, flow)) in turn, chaining their flows."""
    flow = no_flow(image.shape[:2])
    for stroke in strokes:
        image, moved_by = stroke(image)
        flow = compose_flows(flow, moved_by)
    return EditResult(image, _displacement_mask(flow), params, flow)


def eye_size(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, style: EditStyle
) -> EditResult:
    """Enlarge or shrink both eyes about their centres (the 'big eyes' beauty filter); with
    a brush, bulge enlarges and pinch shrinks."""
    enlarge = rng.random() < 0.6
    if style.warp in BRUSHES["eye_size"]:
        enlarge = style.warp == "bulge"
    factor = 1.0 + log_uniform(rng, 0.03, 0.35) if enlarge else 1.0 - log_uniform(rng, 0.02, 0.22)
    params = {"factor": round(factor, 4)}
    moved = landmarks[:, :2].astype(np.float64).copy()
    eyes = ((mesh.LEFT_EYE, range(473, 478)), (mesh.RIGHT_EYE, range(468, 473)))
    if style.warp in BRUSHES["eye_size"]:
        strokes = []
        for contour, iris in eyes:
            idx = list(contour) + list(iris)
            centre = moved[idx].mean(axis=0)
            radius = 1.6 * float(np.linalg.norm(moved[idx] - centre, axis=1).max())
            strokes.append(
                lambda im, c=centre, r=radius: bulge_in_place(
                    im, c, r, 1.0 - 1.0 / factor, interpolation=style.resample
                )
            )
        return _brushed(image, strokes, {**params, "brush": style.warp})
    for contour, iris in eyes:
        idx = list(contour) + list(iris)
        centre = moved[idx].mean(axis=0)
        moved[idx] = centre + factor * (moved[idx] - centre)
    return _geometric(image, landmarks, moved, style, params)


def smile(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, style: EditStyle
) -> EditResult:
    """Lift the mouth corners (with the push brush: a push up and out at each corner)."""
    frame = FaceFrame.of(landmarks)
    local = frame.to_local(landmarks)
    amount = log_uniform(rng, 0.015, 0.16)
    corners = ((mesh.MOUTH_RIGHT_CORNER, -1.0), (mesh.MOUTH_LEFT_CORNER, 1.0))
    if style.warp == "push":
        radius = 0.45 * frame.unit
        strokes = [
            lambda im, c=corner, s=side: push_in_place(
                im,
                landmarks[c, :2].astype(np.float64),
                radius,
                frame.shift(s * 0.4 * amount, -amount)[0],
                interpolation=style.resample,
            )
            for corner, side in corners
        ]
        return _brushed(image, strokes, {"amount": round(amount, 4), "brush": "push"})
    moved = landmarks[:, :2].astype(np.float64).copy()
    for corner, side in corners:
        weight = gaussian_weights(local, tuple(local[corner]), 0.2)
        moved += frame.shift(side * 0.4 * amount * weight, -amount * weight)
    return _geometric(image, landmarks, moved, style, {"amount": round(amount, 4)})


def eyebrow_shape(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, style: EditStyle
) -> EditResult:
    """Raise or lower the eyebrows, more at the outer ends (arching) or evenly; with the
    push brush, a push at each brow (off-centre when arched); with the twirl brush, each
    brow turned about its centre so its outer end rises or falls."""
    frame = FaceFrame.of(landmarks)
    lift = log_uniform(rng, 0.015, 0.16) * float(rng.choice([-1.0, 1.0]))
    arch = float(rng.uniform(0.0, 1.0))
    params = {"lift": round(lift, 4), "arch": round(arch, 4)}
    moved = landmarks[:, :2].astype(np.float64).copy()
    local = frame.to_local(landmarks)
    if style.warp in BRUSHES["eyebrow_shape"]:
        return _brow_brush(image, landmarks, frame, lift, arch, style, params)
    for brow in (mesh.LEFT_EYEBROW, mesh.RIGHT_EYEBROW):
        idx = list(brow)
        outward = np.abs(local[idx, 0]) / max(np.abs(local[idx, 0]).max(), 1e-6)
        moved[idx] += frame.shift(np.zeros(len(idx)), -lift * ((1 - arch) + arch * outward))
    return _geometric(image, landmarks, moved, style, params)


def _brow_brush(
    image: np.ndarray,
    landmarks: np.ndarray,
    frame: FaceFrame,
    lift: float,
    arch: float,
    style: EditStyle,
    params: dict,
) -> EditResult:
    """One push (or twirl) per brow, its disc a little wider than the brow."""
    up = -frame.y_axis
    strokes, angles = [], []
    for brow in (mesh.LEFT_EYEBROW, mesh.RIGHT_EYEBROW):
        points = landmarks[list(brow), :2].astype(np.float64)
        centre = points.mean(axis=0)
        local_x = frame.to_local(points)[:, 0]
        outer = points[int(np.argmax(np.abs(local_x)))] - centre
        radius = 1.2 * max(float(np.linalg.norm(outer)), 1.0)
        if style.warp == "push":
            at = centre + 0.5 * arch * outer
            shift = frame.shift(0.0, -lift)[0]
            strokes.append(
                lambda im, c=at, r=radius, v=shift: push_in_place(
                    im, c, r, v, interpolation=style.resample
                )
            )
            continue
        turn_sign = np.sign(outer[0] * up[1] - outer[1] * up[0])  # this turn lifts the end
        # The twirl moves a pixel at most 0.29 radius * angle: make that the lift.
        angle = float(np.clip(turn_sign * lift * frame.unit / (0.29 * radius), -0.7, 0.7))
        angles.append(round(angle, 4))
        strokes.append(
            lambda im, c=centre, r=radius, a=angle: twirl_in_place(
                im, c, r, a, interpolation=style.resample
            )
        )
    extra = {"brush": style.warp} | ({"angles": angles} if angles else {})
    return _brushed(image, strokes, {**params, **extra})


def nose_width(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, style: EditStyle
) -> EditResult:
    """Widen or narrow the nose about its midline; with a brush, bulge widens and pinch
    narrows, along the eyes' axis only."""
    frame = FaceFrame.of(landmarks)
    widen = rng.random() < 0.5
    if style.warp in BRUSHES["nose_width"]:
        widen = style.warp == "bulge"
    factor = 1.0 + log_uniform(rng, 0.03, 0.3) if widen else 1.0 - log_uniform(rng, 0.03, 0.22)
    params = {"factor": round(factor, 4)}
    idx = list(mesh.NOSE)
    local = frame.to_local(landmarks)
    centre_x = local[mesh.NOSE_TIP, 0]
    if style.warp in BRUSHES["nose_width"]:
        points = landmarks[idx, :2].astype(np.float64)
        centre = points.mean(axis=0)
        radius = 1.3 * float(np.linalg.norm(points - centre, axis=1).max())
        warped, flow = bulge_in_place(
            image,
            centre,
            radius,
            1.0 - 1.0 / factor,
            axis=frame.x_axis,
            interpolation=style.resample,
        )
        return EditResult(warped, _displacement_mask(flow), {**params, "brush": style.warp}, flow)
    new_local = local.copy()
    new_local[idx, 0] = centre_x + factor * (local[idx, 0] - centre_x)
    moved = landmarks[:, :2].astype(np.float64).copy()
    moved[idx] = frame.to_image(new_local[idx])
    return _geometric(image, landmarks, moved, style, params)


def lip_colour(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, style: EditStyle
) -> EditResult:
    """Recolour the lips (lipstick) with one of `retouch.RECOLOURS`: an L*a*b* shift, an HSV
    shift, an alpha tint or a multiply blend towards a lipstick colour."""
    shape = image.shape[:2]
    lips = polygon_mask(landmarks[list(mesh.LIPS_OUTER)], shape) & ~polygon_mask(
        landmarks[list(mesh.LIPS_INNER)], shape
    )
    method = style.recolour or str(rng.choice(RECOLOURS))
    strength = log_uniform(rng, 0.15, 1.3)
    values = recolour_params(method, rng, strength)
    mask = feather(lips, 1.5)
    params = {"method": method, "strength": round(strength, 4), **values}
    return EditResult(composite(image, recolour(image, method, values), mask), mask, params)


def _skin_without_features(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    regions = region_masks(landmarks, (image.shape[1], image.shape[0]))
    skin = regions.full("skin")
    for name in ("left_eye", "right_eye", "left_eyebrow", "right_eyebrow", "mouth"):
        skin &= ~cv2.dilate(regions.full(name).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(
            bool
        )
    return skin


def _around(mask: np.ndarray, pad: int) -> tuple[slice, slice]:
    """The bounding box of a (non-empty) mask's pixels, `pad` px wider, inside the image."""
    ys, xs = np.nonzero(mask)
    height, width = mask.shape
    rows = slice(max(int(ys.min()) - pad, 0), min(int(ys.max()) + pad + 1, height))
    return rows, slice(max(int(xs.min()) - pad, 0), min(int(xs.max()) + pad + 1, width))


def skin_smoothing(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, style: EditStyle
) -> EditResult:
    """Beautify: smooth the skin with one of `retouch.SMOOTHING_FILTERS` (bilateral, guided,
    median, Gaussian, non-local means, frequency separation); eyes, brows, lips untouched."""
    face = FaceFrame.of(landmarks).unit
    name = style.smoothing or str(rng.choice(SMOOTHING_FILTERS))
    values = smoothing_params(name, rng, face)
    strength = log_uniform(rng, 0.15, 1.0)
    mask = feather(_skin_without_features(image, landmarks), face * 0.08) * strength
    # Filter only around the skin (non-local means is slow); the margin covers all or most
    # of each filter's reach, so the crop's border barely shows under the mask.
    smoothed = image.copy()
    if mask.any():
        rows, cols = _around(mask > 0, int(np.ceil(0.6 * face)) + 8)
        smoothed[rows, cols] = smooth(np.ascontiguousarray(image[rows, cols]), name, values)
    params = {"filter": name, **values, "strength": round(strength, 3)}
    return EditResult(composite(image, smoothed, mask), mask, params)


def sharpen(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, style: EditStyle
) -> EditResult:
    """Unsharp-mask the eyes (or the eyes, brows and lips), as retouchers make eyes 'pop'."""
    area = str(rng.choice(["eyes", "features"]))
    values = sharpen_params(rng)
    regions = region_masks(landmarks, (image.shape[1], image.shape[0]))
    names = ["left_eye", "right_eye"]
    if area == "features":
        names += ["left_eyebrow", "right_eyebrow", "mouth"]
    region = np.zeros(image.shape[:2], dtype=np.uint8)
    for name in names:
        region |= regions.full(name).astype(np.uint8)
    reach = max(3, round(0.06 * FaceFrame.of(landmarks).unit)) * 2 + 1
    region = cv2.dilate(region, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach)))
    mask = feather(region.astype(bool), 2.0)
    crisp = unsharp_mask(image, values["sigma"], values["amount"])
    return EditResult(composite(image, crisp, mask), mask, {"area": area, **values})


def aging(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, style: EditStyle
) -> EditResult:
    """Add wrinkle texture (forehead lines, crow's feet, nasolabial shading) and dull the skin."""
    frame = FaceFrame.of(landmarks)
    height, width = image.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    local_x = (
        (xs - frame.origin[0]) * frame.x_axis[0] + (ys - frame.origin[1]) * frame.x_axis[1]
    ) / frame.unit
    local_y = (
        (xs - frame.origin[0]) * frame.y_axis[0] + (ys - frame.origin[1]) * frame.y_axis[1]
    ) / frame.unit
    period = float(rng.uniform(0.09, 0.14))
    wobble = 0.015 * np.sin(local_x * rng.uniform(5, 9) + rng.uniform(0, 6.28))
    lines = np.cos(2 * np.pi * (local_y + wobble) / period) ** 8
    forehead = ((local_y < -0.35) & (local_y > -1.1)).astype(np.float32)
    crows = np.exp(-(((np.abs(local_x) - 0.85) / 0.12) ** 2 + ((local_y - 0.02) / 0.18) ** 2))
    crow_lines = np.cos(2 * np.pi * (np.arctan2(local_y, np.abs(local_x) - 0.6)) * 6) ** 8 * crows
    depth = log_uniform(rng, 0.05, 0.4)
    darken = 1 - depth * np.clip(lines * forehead + crow_lines, 0, 1)
    skin = _skin_without_features(image, landmarks)
    aged = image.astype(np.float32) * darken[..., None]
    grey = aged.mean(axis=2, keepdims=True)
    aged = 0.85 * aged + 0.15 * grey  # older skin looks less saturated
    mask = feather(skin, frame.unit * 0.08)
    params = {"period": round(period, 4), "depth": round(depth, 4)}
    return EditResult(composite(image, np.clip(aged, 0, 255), mask), mask, params)


EditFunction = Callable[[np.ndarray, np.ndarray, np.random.Generator, EditStyle], EditResult]
EDITS: dict[str, EditFunction] = {
    "eye_size": eye_size,
    "smile": smile,
    "lip_colour": lip_colour,
    "skin_smoothing": skin_smoothing,
    "aging": aging,
    "eyebrow_shape": eyebrow_shape,
    "nose_width": nose_width,
    "sharpen": sharpen,
}


@register_forgery("face_editing", FACE_EDITING)
def face_editing(
    target: FaceImage,
    source: FaceImage | None,
    rng: np.random.Generator,
    *,
    edits: list[str] | None = None,
    warp: str | None = None,
    resample: str | None = None,
    smoothing: str | None = None,
    recolour: str | None = None,
) -> Forgery:
    """Apply `edits` in order (default: one to three chosen at random).

    `warp` (one of `warp_choices(geometric edits)`), `resample` (a `warp.WARP_RESAMPLING`
    name), `smoothing` (a `retouch.SMOOTHING_FILTERS` name, for skin smoothing) and
    `recolour` (a `retouch.RECOLOURS` name, for lip colour) are drawn at random when None.
    """
    if target.face.width < 32:
        raise ForgeryError("faces smaller than 32 px cannot be edited convincingly")
    if edits is None:
        count = int(rng.choice([1, 1, 2, 2, 3]))
        edits = [str(name) for name in rng.choice(sorted(EDITS), size=count, replace=False)]
    unknown = [name for name in edits if name not in EDITS]
    if unknown:
        raise ForgeryError(
            f"unknown edit(s) {', '.join(unknown)}; known: {', '.join(sorted(EDITS))}"
        )
    geometric = [name for name in edits if name in GEOMETRIC_EDITS]
    choices = warp_choices(geometric)
    warp = warp or str(rng.choice(choices))
    resample = resample or str(rng.choice(WARP_RESAMPLING))
    if warp not in choices:
        raise ForgeryError(f"warp {warp!r} cannot make {', '.join(geometric)}")
    options = ((resample, WARP_RESAMPLING), (smoothing, SMOOTHING_FILTERS), (recolour, RECOLOURS))
    for value, known in options:
        if value is not None and value not in known:
            raise ForgeryError(f"unknown option {value!r}; expected one of {', '.join(known)}")
    style = EditStyle(warp, resample, smoothing, recolour)
    image = target.rgb.copy()
    mask = np.zeros(image.shape[:2], dtype=np.float32)
    flow = None
    applied: dict[str, dict] = {}
    for name in edits:
        result = EDITS[name](image, target.face.landmarks, rng, style)
        image, applied[name] = result.image, result.params
        mask = np.maximum(mask, result.mask)
        if result.flow is not None:
            flow = result.flow if flow is None else compose_flows(flow, result.flow)
    if int(np.any(image != target.rgb, axis=2).sum()) < 20:
        # e.g. a faint warp resampled nearest: no pixel moves, so nothing may be called fake
        raise ForgeryError("the requested change is too small to see")
    params: dict = {"edits": applied}
    technique = "opendfa.edit."
    if geometric:
        params.update(warp=warp, resample=resample)
        technique += f"{warp}."
    if flow is not None and not flow.any():
        flow = None  # the warp moved nothing: no flow to learn
    if flow is not None:
        params["flow_max_px"] = round(float(flow_magnitude(flow).max()), 2)
    return Forgery(
        image=image,
        mask=mask,
        category=FACE_EDITING,
        technique=technique + "+".join(sorted(edits)),
        target_identity=target.identity,
        params=params,
        flow=flow,
    )
