"""Fixtures made at test time: real photos as JPEG bytes, and a C2PA signing chain."""

from __future__ import annotations

import numpy as np
import pytest
from forensic_fixtures import (
    AI_SOURCE,
    SAMPLES,
    SigningChain,
    jpeg_bytes,
    launder,
    make_signing_chain,
    sign_jpeg,
)
from PIL import Image


@pytest.fixture(scope="session")
def signing_chain() -> SigningChain:
    return make_signing_chain()


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Three real photos (two cats and people), never JPEG-compressed on the current grid."""
    from skimage import data

    hopper = np.asarray(Image.open(SAMPLES / "grace_hopper.jpg").convert("RGB"))
    return {
        "astronaut": launder(data.astronaut()),
        "chelsea": launder(data.chelsea()),
        "grace_hopper": launder(hopper),
    }


@pytest.fixture(scope="session")
def plain_jpeg(photos) -> bytes:
    return jpeg_bytes(photos["chelsea"], 90)


@pytest.fixture(scope="session")
def signed_jpeg(plain_jpeg, signing_chain) -> bytes:
    actions = [
        {
            "action": "c2pa.created",
            "digitalSourceType": AI_SOURCE,
            "softwareAgent": {"name": "Test Generator 2"},
        }
    ]
    return sign_jpeg(plain_jpeg, signing_chain, actions)
