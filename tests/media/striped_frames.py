"""Test frames that carry their own index as six black/white stripes (bit b set = stripe b
white), which survive lossy codecs, so a test can tell exactly which frames came back."""

from __future__ import annotations

import numpy as np

WIDTH, HEIGHT = 96, 48
STRIPE = WIDTH // 6


def striped(index: int) -> np.ndarray:
    """An RGB frame whose stripes spell `index` in binary."""
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    for bit in range(6):
        if index >> bit & 1:
            frame[:, bit * STRIPE : (bit + 1) * STRIPE] = 255
    return frame


def index_of(rgb: np.ndarray) -> int:
    """Read the index back from the middle of each stripe (away from codec edge ringing)."""
    centre = rgb[8:-8]
    return sum(
        1 << bit
        for bit in range(6)
        if centre[:, bit * STRIPE + 4 : (bit + 1) * STRIPE - 4].mean() > 127
    )
