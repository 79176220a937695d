"""Aligned-crop datasets: generated faces framed like real ones."""

from __future__ import annotations

import numpy as np


def test_tight_generated_crops_are_reframed_to_the_detector_margin():
    from opendfa.data.dataset import reframe

    # A 64 px face drawn edge to edge (margin 0) seen by a margin-0.25 detector: the face
    # must cover the middle 1/1.5 of the crop, as a real face's would.
    face = np.zeros((64, 64, 3), np.uint8)
    face[:, :, 0] = 200
    face[:, :8, 1] = 255  # a stripe on the left edge, to see the mirrored padding
    mask = np.ones((64, 64), np.float32)
    image, reframed = reframe(face, mask, 0.0, 0.25)
    assert image.shape == (96, 96, 3) and reframed.shape == (96, 96)
    assert (image[16:80, 16:80] == face).all()
    assert image[40, 10, 1] == 255  # mirrored stripe in the padding
    assert reframed.min() == 1.0  # padding repeats forged pixels: still forged
    same, _ = reframe(face, mask, 0.25, 0.25)
    assert same is face
    tighter, _ = reframe(image, reframed, 0.25, 0.0)
    assert (tighter == face).all()
