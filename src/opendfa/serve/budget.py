"""The server's decode budget: pixels × channels an upload may decode to, read from its header.

The global pixel cap (50 MP) protects one analyst's own machine; a server shared by many
needs a much smaller bound, because decoding, face detection and the stored preview all grow
with the decoded size. A 6 KB 1-bit PNG can declare 49 megapixels: it is refused here from
its header in milliseconds, before a single row is decoded. Channels count at least 3
because every image is converted to RGB.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from opendfa.media import probe_video

DEFAULT_DECODE_BUDGET = 48_000_000  # a 16-megapixel RGB photo


@dataclass(frozen=True)
class DecodeCost:
    width: int
    height: int
    channels: int

    @property
    def samples(self) -> int:
        return self.width * self.height * self.channels

    def over(self, budget: int) -> str | None:
        """Why this exceeds `budget` (one line), or None if it fits."""
        if self.samples <= budget:
            return None
        return (
            f"image too large for this server: {self.width}x{self.height} x {self.channels} "
            f"channels = {self.samples / 1e6:.0f} M samples exceeds the decode budget limit "
            f"of {budget / 1e6:.0f} M (pixels x channels)"
        )


def image_cost(data: bytes) -> DecodeCost | None:
    """The decoded size an image's header declares; None if Pillow cannot read the header
    (the loader then gives the precise reason)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                bands = len(image.getbands())
    except Image.DecompressionBombError:
        return DecodeCost(1 << 20, 1 << 20, 3)  # past Pillow's own hard limit
    except Exception:
        return None
    return DecodeCost(width, height, max(3, bands))


def video_cost(path: Path) -> DecodeCost:
    """One decoded frame of a video (frames are decoded one at a time, as RGB)."""
    info = probe_video(path)
    return DecodeCost(info.width, info.height, 3)
