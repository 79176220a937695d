"""Technique groups: which implementation made a forged sample, for held-out-technique tests.

Technique names (`Forgery.technique`, `Sample.technique`) of the built-in methods:

* face swap: `opendfa.swap.<warp>.<color>.<blend>`, e.g. `opendfa.swap.tps.histogram.laplacian`;
* self-blended image: `opendfa.sbi`;
* reenactment: `opendfa.reenact.<warp>.<action>+<action>` (e.g. `opendfa.reenact.tps.blink+smile`)
  or `opendfa.reenact.<warp>.driven`;
* editing: `opendfa.edit.<warp>.<op>+<op>` (e.g. `opendfa.edit.bulge.eye_size`), without
  `<warp>` when no operation is geometric (`opendfa.edit.aging+lip_colour`);
* entire-face synthesis: `opendfa.vae.<model>` or `opendfa.dcgan.digiface1m`.

The operations stay the last dot-separated part. The resampling filter is in the params only
(`resample`; `interpolation` for synthesis), and with it the library that resampled
(`resample_library`: opencv, skimage, scipy). An edit's skin-smoothing filter and lip
recolouring method are in its params (`edits.skin_smoothing.filter`,
`edits.lip_colour.method`): groups `smoothing` and `recolour`. Names written before these
variants existed (`opendfa.swap.poisson`, `opendfa.edit.eye_size`) read as the mesh warp,
their params' boolean `color_transfer` as Reinhard or none, and edits without a recorded
filter or method as the only ones there were then (bilateral, lab).

`technique_group(technique, params)` gives one value per group that applies to a sample;
`technique_tags` the `group:value` tags, one per operation, so that "hold out eye_size" can
take every sample whose tags contain `operation:eye_size`.
"""

from __future__ import annotations

from typing import Any

from opendfa.forge.blend import BLENDS
from opendfa.forge.color import COLOR_TRANSFERS
from opendfa.forge.edit import EDITS, GEOMETRIC_EDITS
from opendfa.forge.reenact import ACTIONS
from opendfa.forge.resample import LIBRARIES, WARP_RESAMPLING, resampling_library
from opendfa.forge.retouch import RECOLOURS, SMOOTHING_FILTERS
from opendfa.forge.synth import GENERATORS
from opendfa.forge.warp import LOCAL_WARPS, WARPS

FAMILIES = ("swap", "sbi", "reenact", "edit", "synth")
TECHNIQUE_GROUPS: dict[str, tuple[str, ...]] = {
    "family": FAMILIES,
    "blend": BLENDS,
    "warp": WARPS + LOCAL_WARPS,
    "color": COLOR_TRANSFERS,
    "resample": (*WARP_RESAMPLING, "area"),
    "resample_library": LIBRARIES,
    "smoothing": SMOOTHING_FILTERS,
    "recolour": RECOLOURS,
    # `smile` is both an edit and a reenactment action: pair it with `family` to tell them apart.
    "operation": tuple(dict.fromkeys((*sorted(EDITS), *ACTIONS, "driven"))),
    "generator": GENERATORS,
}
_OLD_BLENDS = {"poisson": "poisson_normal"}


def technique_group(technique: str, params: dict[str, Any] | None = None) -> dict[str, str]:
    """The groups of one sample, e.g. {"family": "swap", "blend": "laplacian", "warp": "tps",
    "color": "reinhard", "resample": "cubic"}; several operations are joined with "+".

    Samples not made by `opendfa.forge` (reals, imported datasets) give {}.
    """
    params = params or {}
    parts = technique.split(".")
    if parts[0] != "opendfa" or len(parts) < 2:
        return {}
    kind, rest = parts[1], parts[2:]
    groups: dict[str, str] = {}
    if kind == "sbi":
        groups["family"] = "sbi"
    elif kind == "swap" and rest:
        groups["family"] = "swap"
        groups["blend"] = _OLD_BLENDS.get(rest[-1], rest[-1])
        groups["warp"] = rest[0] if len(rest) == 3 else str(params.get("warp", "mesh"))
        colour = rest[1] if len(rest) == 3 else params.get("color_transfer", "reinhard")
        if isinstance(colour, bool):
            colour = "reinhard" if colour else "none"
        groups["color"] = str(colour)
    elif kind in ("reenact", "edit") and rest:
        groups["family"] = kind
        groups["operation"] = "+".join(sorted(rest[-1].split("+")))
        if len(rest) == 2:
            groups["warp"] = rest[0]
        elif kind == "reenact" or any(op in GEOMETRIC_EDITS for op in rest[-1].split("+")):
            groups["warp"] = "mesh"  # named before the warp choice existed
    elif kind in GENERATORS:
        groups["family"] = "synth"
        groups["generator"] = kind
    else:
        return {}
    resample = params.get("resample", params.get("interpolation"))
    resample = "cubic" if resample == "bicubic" else resample  # synthesis before the choice
    if resample in TECHNIQUE_GROUPS["resample"]:
        groups["resample"] = str(resample)
        groups["resample_library"] = (
            "opencv" if resample == "area" else resampling_library(resample)
        )
    if groups["family"] == "edit":
        groups.update(_retouch_groups(groups["operation"].split("+"), params.get("edits") or {}))
    return groups


def _retouch_groups(operations: list[str], edits: dict[str, Any]) -> dict[str, str]:
    """The smoothing filter and recolouring method of an edit's appearance operations."""
    groups = {}
    if "skin_smoothing" in operations:
        groups["smoothing"] = str(edits.get("skin_smoothing", {}).get("filter", "bilateral"))
    if "lip_colour" in operations:
        groups["recolour"] = str(edits.get("lip_colour", {}).get("method", "lab"))
    return groups


def technique_tags(technique: str, params: dict[str, Any] | None = None) -> set[str]:
    """`group:value` tags of a sample, one per operation (`operation:eye_size`, ...)."""
    tags = set()
    for group, value in technique_group(technique, params).items():
        values = value.split("+") if group == "operation" else [value]
        tags.update(f"{group}:{v}" for v in values)
    return tags
