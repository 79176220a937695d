"""Measured forensic cues: numbers from the pixels that a person can check for themselves.

Every cue compares the pixels a manipulation mask marks (the *inside*: mask >= 0.5) with the
untouched pixels next to them on the same face crop. Blending a foreign face into a photo
leaves traces at exactly these places: a different sharpness or noise level inside, a colour
or brightness step along the seam, a sharp edge where there should be none.

Sides, with `s` the square root of the inside's area in pixels:
- inside core: the inside less a 2 px gap along its edge (filters straddling the seam would
  mix both sides);
- ring: pixels between 2 px and 2 + max(4, s/4) px outside the inside (the untouched
  surroundings);
- bands: max(2, s/20) px wide strips just inside and just outside the mask edge.

A cue is None (left out of a report) when a side has fewer than 16 pixels. The numbers are
honest measurements, not proof: a mask edge that follows a natural edge (the jaw against a
dark background) also shows a colour step, and the eyes are sharper than the cheeks in any
photo. They are evidence to weigh next to the detector's scores.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np

INSIDE_LEVEL = 0.5
MIN_PIXELS = 16
_GAP = 2

# The regions that come in left/right pairs, keyed by the left one (the subject's left).
SYMMETRIC_PAIRS = {
    "left_eye": "right_eye",
    "left_eyebrow": "right_eyebrow",
    "left_cheek": "right_cheek",
}


@dataclass(frozen=True)
class CueInfo:
    """What a cue means; `notable` is the value at which it counts as clearly unusual."""

    name: str
    label: str
    meaning: str
    kind: str  # "ratio" (neutral value 1) or "difference" (neutral value 0)
    notable: float


CUES: dict[str, CueInfo] = {
    info.name: info
    for info in (
        CueInfo(
            "blur_ratio",
            "blur ratio",
            "sharpness (Laplacian variance) of the untouched surroundings divided by that "
            "of the masked area; above 1 the masked area is blurrier",
            "ratio",
            1.5,
        ),
        CueInfo(
            "boundary_colour_mismatch",
            "colour step along the mask edge",
            "mean CIE L*a*b* colour difference (ΔE76) between thin bands just inside and just "
            "outside the mask edge, compared locally along the edge; about 2.3 is just visible",
            "difference",
            6.0,
        ),
        CueInfo(
            "noise_residual_ratio",
            "noise ratio",
            "standard deviation of the noise residual (image minus its 3x3 median) inside the "
            "mask divided by that of the untouched surroundings; 1 means equal noise",
            "ratio",
            1.5,
        ),
        CueInfo(
            "edge_discontinuity",
            "edge strength at the mask edge",
            "mean gradient magnitude along the mask edge divided by the mean elsewhere on the "
            "face; above 1 there is a seam",
            "ratio",
            1.5,
        ),
        CueInfo(
            "illumination_mismatch",
            "brightness difference",
            "mean lightness L* (0-100) inside the mask minus that of the ring around it; "
            "negative means the masked area is darker",
            "difference",
            8.0,
        ),
        CueInfo(
            "left_right_asymmetry",
            "left/right colour difference",
            "difference of mean chroma (a*, b* of CIE L*a*b*) between the left and right "
            "region of a pair, e.g. eyes of different colours; lightness is left out so that "
            "light from one side does not count, but coloured light from one side does",
            "difference",
            8.0,
        ),
    )
}


def cue_strength(name: str, value: float) -> float:
    """How unusual a cue value is: 0 at its neutral value, 1 at its `notable` value."""
    info = CUES[name]
    if info.kind == "ratio":
        return abs(math.log(max(value, 1e-6))) / math.log(info.notable)
    return abs(value) / info.notable


_LAB_WARM_UP: threading.Thread | None = None
_LAB_LOCK = threading.Lock()


def warm_up_lab_in_background() -> threading.Thread:
    """Build OpenCV's L*a*b* conversion tables now, on another core (once per process).

    OpenCV builds them on a process's first L*a*b* conversion: 60-90 ms on this project's
    CPU, as long as the rest of one face's cues. The work is C++ that releases the
    interpreter lock, so a caller that starts this before loading its models (`Analyzer`)
    takes it off the path of a one-image analysis. OpenCV's first build is not guarded
    against two threads at once, so every conversion here waits for it first; and the
    process's exit waits for it too (not a daemon thread)."""
    global _LAB_WARM_UP
    with _LAB_LOCK:
        if _LAB_WARM_UP is None:
            thread = threading.Thread(
                target=_convert_to_lab,
                args=(np.zeros((1, 1, 3), np.float32),),
                name="opendfa-lab-tables",
            )
            thread.start()  # before it is published: a started thread can always be joined
            _LAB_WARM_UP = thread
        return _LAB_WARM_UP


def _rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """OpenCV's RGB to L*a*b* of a float image in [0, 1], after any warm-up has finished."""
    warm_up = _LAB_WARM_UP
    if warm_up is not None:
        warm_up.join()
    return _convert_to_lab(rgb)


def _convert_to_lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)


@dataclass
class CueMaps:
    """Per-pixel maps the cues read, computed once per crop."""

    gray: np.ndarray
    lab: np.ndarray
    laplacian: np.ndarray
    residual: np.ndarray
    gradient: np.ndarray

    @classmethod
    def of(cls, image: np.ndarray) -> CueMaps:
        rgb = _check_image(image)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        lab = _rgb_to_lab(rgb.astype(np.float32) / 255.0)
        median = cv2.medianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 3).astype(np.float32)
        gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
        return cls(
            gray=gray,
            lab=lab,
            laplacian=cv2.Laplacian(gray, cv2.CV_32F, ksize=1),
            residual=gray - median,
            gradient=cv2.magnitude(gx, gy),
        )


@dataclass
class Sides:
    """The pixel sets the cues compare, for one inside area (see the module docstring)."""

    inside: np.ndarray  # boolean: the masked pixels, full size
    core: np.ndarray
    ring: np.ndarray
    band_in: np.ndarray
    band_out: np.ndarray
    edge: np.ndarray  # a 2-3 px line along the mask edge (not along the crop's border)
    edge_zone: np.ndarray  # the edge widened by a band: left out of "elsewhere"
    band: int

    @classmethod
    def of(cls, inside: np.ndarray, within: np.ndarray | None = None) -> Sides:
        inside = np.asarray(inside, dtype=bool)
        size = math.sqrt(max(int(inside.sum()), 1))
        ring_px = max(4, round(size / 4))
        band = max(2, round(size / 20))
        allowed = np.ones_like(inside) if within is None else np.asarray(within, dtype=bool)
        to_inside = _distance_to(inside)  # 0 inside, grows outwards
        to_outside = _distance_to(~inside)  # 0 outside, grows inwards
        edge = (to_inside <= 1) & (to_outside <= 1) & ~_border(inside.shape, 2)
        return cls(
            inside=inside,
            core=(to_outside > _GAP) & allowed,
            ring=(to_inside > _GAP) & (to_inside <= _GAP + ring_px) & allowed,
            band_in=inside & (to_outside <= band) & allowed,
            band_out=~inside & (to_inside <= band) & allowed,
            edge=edge & allowed,
            edge_zone=_distance_to(edge) <= band + 1,
            band=band,
        )


# Single cues on a crop and a mask: the public, self-contained forms. `within` (boolean,
# the crop's size) limits both sides to an area, e.g. the face.


Within = np.ndarray | None


def blur_ratio(image: np.ndarray, mask: np.ndarray, within: Within = None) -> float | None:
    """Sharpness outside over sharpness inside the mask (>1: the inside is blurrier)."""
    return _blur_ratio(CueMaps.of(image), _sides(mask, within))


def boundary_colour_mismatch(
    image: np.ndarray, mask: np.ndarray, within: Within = None
) -> float | None:
    """Mean local ΔE76 between the bands just inside and just outside the mask edge."""
    return _boundary_colour_mismatch(CueMaps.of(image), _sides(mask, within))


def noise_residual_ratio(
    image: np.ndarray, mask: np.ndarray, within: Within = None
) -> float | None:
    """Noise residual std inside over outside (>1: the inside is noisier)."""
    return _noise_residual_ratio(CueMaps.of(image), _sides(mask, within))


def edge_discontinuity(image: np.ndarray, mask: np.ndarray, within: Within = None) -> float | None:
    """Gradient magnitude along the mask edge over that elsewhere (>1: a visible seam).

    `within` is the face area to compare with; by default the inside and its ring.
    """
    return _edge_discontinuity(CueMaps.of(image), _sides(mask, within), within)


def illumination_mismatch(
    image: np.ndarray, mask: np.ndarray, within: Within = None
) -> float | None:
    """Mean L* inside the mask minus mean L* of the ring around it."""
    return _illumination_mismatch(CueMaps.of(image), _sides(mask, within))


def left_right_asymmetry(image: np.ndarray, left: np.ndarray, right: np.ndarray) -> float | None:
    """Chroma difference (a*b* of L*a*b*) between the two regions of a symmetric pair."""
    return _asymmetry(CueMaps.of(image), np.asarray(left, bool), np.asarray(right, bool))


# Cues of a whole face and of its regions, sharing one set of maps.


@dataclass
class FaceCues:
    """Cues of the whole mask (`face`) and of each region (`regions`, name -> cues)."""

    face: dict[str, float] = field(default_factory=dict)
    regions: dict[str, dict[str, float]] = field(default_factory=dict)


def face_cues(image: np.ndarray, mask: np.ndarray, maps: CueMaps | None = None) -> dict[str, float]:
    """All mask cues for the whole inside of `mask` (empty if the mask marks nothing)."""
    return _face_cues(maps or CueMaps.of(image), _sides(mask))


def cues_for_region(
    image: np.ndarray,
    mask: np.ndarray,
    regions: Mapping[str, np.ndarray] | object,
    name: str,
    maps: CueMaps | None = None,
) -> dict[str, float]:
    """Cues of one region: its masked part against the untouched ring near it.

    `regions` is a `RegionMasks` or a dict of full-size boolean masks, in the crop's frame.
    Mask cues need at least a tenth of the region (and 16 px) inside the mask; the edge cues
    need the mask edge to pass through the region. Left/right regions also get
    `left_right_asymmetry` against their partner, whatever the mask says.
    """
    maps = maps or CueMaps.of(image)
    sides = _sides(mask)
    return _region_cues(maps, sides, _edge_delta(maps, sides), regions, name)


def measure_cues(
    image: np.ndarray, mask: np.ndarray, regions: Mapping[str, np.ndarray] | object
) -> FaceCues:
    """Whole-mask cues and the cues of every region in `regions`, from one set of maps."""
    maps = CueMaps.of(image)
    sides = _sides(mask)
    delta = _edge_delta(maps, sides)
    names = list(regions.masks if hasattr(regions, "masks") else regions)  # type: ignore[union-attr]
    return FaceCues(
        face=_face_cues(maps, sides, delta),
        regions={name: _region_cues(maps, sides, delta, regions, name) for name in names},
    )


def _face_cues(maps: CueMaps, sides: Sides, delta: np.ndarray | None = None) -> dict[str, float]:
    if sides.inside.sum() < MIN_PIXELS:
        return {}
    values = {
        "blur_ratio": _blur_ratio(maps, sides),
        "boundary_colour_mismatch": _boundary_colour_mismatch(maps, sides, delta),
        "noise_residual_ratio": _noise_residual_ratio(maps, sides),
        "edge_discontinuity": _edge_discontinuity(maps, sides, None),
        "illumination_mismatch": _illumination_mismatch(maps, sides),
    }
    return {name: value for name, value in values.items() if value is not None}


def _region_cues(
    maps: CueMaps,
    sides: Sides,
    delta: np.ndarray | None,
    regions: Mapping[str, np.ndarray] | object,
    name: str,
) -> dict[str, float]:
    region = _region(regions, name)
    cues: dict[str, float | None] = {}
    part = region & sides.inside
    if part.sum() >= max(MIN_PIXELS, 0.1 * region.sum()):
        local = _local_sides(sides, region)
        cues["blur_ratio"] = _blur_ratio(maps, local)
        cues["noise_residual_ratio"] = _noise_residual_ratio(maps, local)
        cues["illumination_mismatch"] = _illumination_mismatch(maps, local)
        if local.edge.sum() >= MIN_PIXELS:
            cues["boundary_colour_mismatch"] = _boundary_colour_mismatch(maps, local, delta)
            cues["edge_discontinuity"] = _edge_discontinuity(maps, local, region | local.ring)
    partner = SYMMETRIC_PAIRS.get(name) or next(
        (left for left, right in SYMMETRIC_PAIRS.items() if right == name), None
    )
    if partner is not None:
        cues["left_right_asymmetry"] = _asymmetry(maps, region, _region(regions, partner))
    return {key: value for key, value in cues.items() if value is not None}


# Implementation.


def _blur_ratio(maps: CueMaps, sides: Sides) -> float | None:
    if not _enough(sides.core, sides.ring):
        return None
    inside = float(maps.laplacian[sides.core].var())
    outside = float(maps.laplacian[sides.ring].var())
    return (outside + 1.0) / (inside + 1.0)


def _noise_residual_ratio(maps: CueMaps, sides: Sides) -> float | None:
    if not _enough(sides.core, sides.ring):
        return None
    inside = float(maps.residual[sides.core].std())
    outside = float(maps.residual[sides.ring].std())
    return (inside + 0.5) / (outside + 0.5)


def _illumination_mismatch(maps: CueMaps, sides: Sides) -> float | None:
    if not _enough(sides.core, sides.ring):
        return None
    lightness = maps.lab[..., 0]
    return float(lightness[sides.core].mean() - lightness[sides.ring].mean())


def _boundary_colour_mismatch(
    maps: CueMaps, sides: Sides, delta: np.ndarray | None = None
) -> float | None:
    if delta is None:
        delta = _edge_delta(maps, sides)
    values = delta[sides.edge]
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size >= MIN_PIXELS else None


def _edge_delta(maps: CueMaps, sides: Sides) -> np.ndarray:
    """ΔE at each edge pixel between the colours averaged locally on either side (NaN off it)."""
    delta = np.full(sides.inside.shape, np.nan, dtype=np.float32)
    if not _enough(sides.band_in, sides.band_out, sides.edge):
        return delta
    sigma = float(sides.band)
    inside, weight_in = _local_mean(maps.lab, sides.band_in, sigma)
    outside, weight_out = _local_mean(maps.lab, sides.band_out, sigma)
    where = sides.edge & (weight_in > 0.05) & (weight_out > 0.05)
    delta[where] = np.linalg.norm(inside[where] - outside[where], axis=1)
    return delta


def _edge_discontinuity(maps: CueMaps, sides: Sides, within: np.ndarray | None) -> float | None:
    area = (sides.inside | sides.ring) if within is None else np.asarray(within, bool)
    elsewhere = area & ~sides.edge_zone
    if not _enough(sides.edge, elsewhere):
        return None
    along = float(maps.gradient[sides.edge].mean())
    rest = float(maps.gradient[elsewhere].mean())
    return (along + 1.0) / (rest + 1.0)


def _asymmetry(maps: CueMaps, left: np.ndarray, right: np.ndarray) -> float | None:
    if not _enough(left, right):
        return None
    chroma = maps.lab[..., 1:]
    return float(np.linalg.norm(chroma[left].mean(axis=0) - chroma[right].mean(axis=0)))


def _local_sides(sides: Sides, region: np.ndarray) -> Sides:
    """The sides restricted to one region; the ring near it, or all of it if that is thin."""
    reach = _GAP + max(4, round(math.sqrt(max(int(region.sum()), 1))))
    to_region = _distance_to(region)
    near = to_region <= reach
    ring = sides.ring & near
    if ring.sum() < MIN_PIXELS:
        ring = sides.ring
    return Sides(
        inside=sides.inside & region,
        core=sides.core & region,
        ring=ring,
        band_in=sides.band_in & near,
        band_out=sides.band_out & near,
        edge=sides.edge & (to_region <= sides.band),
        edge_zone=sides.edge_zone,
        band=sides.band,
    )


def _local_mean(
    values: np.ndarray, where: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian-weighted mean of `values` over `where` around every pixel, and the weight."""
    weight = where.astype(np.float32)
    total = cv2.GaussianBlur(values * weight[..., None], (0, 0), sigma)
    norm = cv2.GaussianBlur(weight, (0, 0), sigma)
    return total / np.maximum(norm, 1e-6)[..., None], norm


def _sides(mask: np.ndarray, within: np.ndarray | None = None) -> Sides:
    mask = np.asarray(mask, dtype=np.float32)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    return Sides.of(mask >= INSIDE_LEVEL, within)


def _region(regions: Mapping[str, np.ndarray] | object, name: str) -> np.ndarray:
    if hasattr(regions, "full"):
        return regions.full(name)  # type: ignore[union-attr]
    return np.asarray(regions[name], dtype=bool)  # type: ignore[index]


def _enough(*sets: np.ndarray) -> bool:
    return all(int(s.sum()) >= MIN_PIXELS for s in sets)


def _check_image(image: np.ndarray) -> np.ndarray:
    rgb = np.asarray(image)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {rgb.dtype} {rgb.shape}")
    return np.ascontiguousarray(rgb)


def _border(shape: tuple[int, ...], width: int) -> np.ndarray:
    border = np.ones(shape[:2], dtype=bool)
    border[width:-width, width:-width] = False
    return border


def _distance_to(target: np.ndarray) -> np.ndarray:
    """Euclidean distance of every pixel to the nearest True pixel of `target` (0 on it)."""
    if not target.any():
        return np.full(target.shape, np.inf, dtype=np.float32)
    return cv2.distanceTransform((~target).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5)
