"""The `Forgery` record and the registry every forgery method joins with a decorator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from opendfa.faces.regions import region_masks
from opendfa.faces.types import Face
from opendfa.taxonomy import check_category


@dataclass
class FaceImage:
    """A real face photo ready for forging: RGB pixels, its main face and who it is."""

    rgb: np.ndarray
    face: Face
    identity: str
    path: str = ""


@dataclass
class Forgery:
    """A forged image with an honest mask of what changed and everything needed to redo it.

    `mask` is float32 in [0, 1], the image's size: 1 where pixels were replaced, fractional
    where they were blended. `params` holds every random choice, so `create_forgery(technique)`
    with the same inputs and `params["seed"]` gives the same pixels. `flow`, for methods that
    move the target's own pixels (editing warps, reenactment), is the backward displacement
    (H, W, 2) float32 in px: the forged pixel (x, y) shows the real one at (x + dx, y + dy);
    zero where nothing moved, None for methods that move nothing.
    """

    image: np.ndarray
    mask: np.ndarray
    category: str
    technique: str
    target_identity: str
    source_identity: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    regions: list[str] = field(default_factory=list)
    flow: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_category(self.category)
        if self.mask.shape != self.image.shape[:2]:
            raise ValueError(f"mask {self.mask.shape} does not match image {self.image.shape[:2]}")
        if self.flow is not None and self.flow.shape != (*self.image.shape[:2], 2):
            raise ValueError(f"flow {self.flow.shape} does not match image {self.image.shape[:2]}")


class ForgeryError(ValueError):
    """A method cannot forge these inputs (e.g. faces too small, no source given)."""


ForgeryMethod = Callable[..., Forgery]
FORGERY_METHODS: dict[str, ForgeryMethod] = {}
METHOD_CATEGORIES: dict[str, str] = {}
NEEDS_SOURCE: set[str] = set()


def register_forgery(name: str, category: str, *, needs_source: bool = False):
    """Add a method `fn(target: FaceImage, source: FaceImage | None, rng, **options)`."""
    check_category(category)

    def decorate(fn: ForgeryMethod) -> ForgeryMethod:
        if name in FORGERY_METHODS:
            raise ValueError(f"forgery method {name!r} registered twice")
        FORGERY_METHODS[name] = fn
        METHOD_CATEGORIES[name] = category
        if needs_source:
            NEEDS_SOURCE.add(name)
        return fn

    return decorate


def create_forgery(
    name: str, target: FaceImage, source: FaceImage | None = None, *, seed: int = 0, **options: Any
) -> Forgery:
    """Run a registered method with a seeded generator; the seed is recorded in the params."""
    try:
        method = FORGERY_METHODS[name]
    except KeyError:
        known = ", ".join(sorted(FORGERY_METHODS))
        raise ForgeryError(f"unknown forgery method {name!r}; known: {known}") from None
    if name in NEEDS_SOURCE and source is None:
        raise ForgeryError(f"{name} needs a source face")
    rng = np.random.default_rng(seed)
    forgery = method(target, source, rng, **options)
    forgery.params = {"seed": seed, **forgery.params}
    if not forgery.regions:
        forgery.regions = touched_regions(forgery.mask, target.face)
    return forgery


def touched_regions(mask: np.ndarray, face: Face, min_fraction: float = 0.2) -> list[str]:
    """Regions the mask covers (at half its peak or more) for `min_fraction` of their area.

    A region holding a quarter of all changed pixels counts too: a lip recolour touches the
    mouth even when the open mouth between the lips is left alone.
    """
    height, width = mask.shape
    regions = region_masks(face.landmarks, (width, height))
    level = 0.5 * max(float(mask.max()), 1e-6)
    changed_total = max(int((mask >= level).sum()), 1)
    x0, y0 = regions.origin
    touched = []
    for name, window in regions.masks.items():
        area = int(window.sum())
        if area == 0:
            continue
        changed = mask[y0 : y0 + window.shape[0], x0 : x0 + window.shape[1]] >= level
        overlap = int((changed & window).sum())
        if overlap >= min_fraction * area or overlap >= 0.25 * changed_total:
            touched.append(name)
    return touched
