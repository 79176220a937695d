"""Confidence bands of a detector's margin |P(fake) - threshold|: the words the report and
the grounded answers use, and what the claim check holds a reply's "sure" or "unsure" to.

Its own module so that writing a report's words does not import the claim reader (its
patterns cost about 40 ms at import, a few per cent of a one-image `opendfa analyze`)."""

from __future__ import annotations

CLEAR_MARGIN = 0.3
MODERATE_MARGIN = 0.15
BANDS = ("low", "moderate", "high")


def confidence_band(margin: float | None) -> str | None:
    """ "high", "moderate" or "low" for a detector margin (the grounded answers' words)."""
    if margin is None:
        return None
    if margin >= CLEAR_MARGIN:
        return "high"
    return "moderate" if margin >= MODERATE_MARGIN else "low"
