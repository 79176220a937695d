"""The DF40 / DFA-Instruct forgery taxonomy shared by every stage."""

from __future__ import annotations

REAL = "real"
FACE_SWAP = "face_swap"
FACE_REENACTMENT = "face_reenactment"
FACE_EDITING = "face_editing"
ENTIRE_FACE_SYNTHESIS = "entire_face_synthesis"

CATEGORIES = (REAL, FACE_SWAP, FACE_REENACTMENT, FACE_EDITING, ENTIRE_FACE_SYNTHESIS)
FAKE_CATEGORIES = CATEGORIES[1:]
CATEGORY_ABBREVIATIONS = {
    REAL: "RL",
    FACE_SWAP: "FS",
    FACE_REENACTMENT: "FR",
    FACE_EDITING: "FE",
    ENTIRE_FACE_SYNTHESIS: "EFS",
}


def check_category(category: str) -> str:
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; expected one of {', '.join(CATEGORIES)}")
    return category
