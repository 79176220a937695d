"""Forgery synthesis: labelled fakes with honest masks, behind one registry.

Importing this package registers every built-in method. Technique names and the groups a
held-out-technique protocol can hold out (blend, warp, colour transfer, resampling filter,
operation, generator) are in `opendfa.forge.techniques`.
"""

from opendfa.forge import edit, reenact, selfblend, swap, synth  # noqa: F401  (registers methods)
from opendfa.forge.core import (
    FORGERY_METHODS,
    METHOD_CATEGORIES,
    FaceImage,
    Forgery,
    ForgeryError,
    create_forgery,
    register_forgery,
    touched_regions,
)
from opendfa.forge.techniques import TECHNIQUE_GROUPS, technique_group, technique_tags

__all__ = [
    "FORGERY_METHODS",
    "METHOD_CATEGORIES",
    "TECHNIQUE_GROUPS",
    "FaceImage",
    "Forgery",
    "ForgeryError",
    "create_forgery",
    "register_forgery",
    "technique_group",
    "technique_tags",
    "touched_regions",
]
