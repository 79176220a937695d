"""Forgery synthesis: labelled fakes with honest masks, behind one registry.

Importing this package registers every built-in method.
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

__all__ = [
    "FORGERY_METHODS",
    "METHOD_CATEGORIES",
    "FaceImage",
    "Forgery",
    "ForgeryError",
    "create_forgery",
    "register_forgery",
    "touched_regions",
]
