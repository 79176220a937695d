"""The server's decode budget: pixels × channels an upload may decode to, read from its header.

The global pixel cap (50 MP) protects one analyst's own machine; a server shared by many
needs a much smaller bound, because decoding, face detection and the stored preview all grow
with the decoded size. A 6 KB 1-bit PNG can declare 49 megapixels: it is refused here from
its header in milliseconds, before a single row is decoded. Channels count at least 3
because every image is converted to RGB.

A video is decoded a frame at a time, but its sampler holds up to three frames per frame
sampled (media/video.py), so a video with large frames samples fewer of them
(`frames_within`): 16 frames of 1080p, 5 of 4K, keeping the frames held under
`DEFAULT_FRAME_MEMORY` samples.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from opendfa.media import probe_video

DEFAULT_DECODE_BUDGET = 48_000_000  # a 16-megapixel RGB photo
DEFAULT_FRAME_MEMORY = 384_000_000  # samples of the video frames one analysis holds at once
HELD_PER_SAMPLED = 3  # frames the uniform sampler may hold per frame it yields


@dataclass(frozen=True)
class DecodeCost:
    width: int
    height: int
    channels: int
    declared_only: bool = False  # only the pixel count is known (width holds it, height 1)

    @property
    def samples(self) -> int:
        return self.width * self.height * self.channels

    def over(self, budget: int) -> str | None:
        """Why this exceeds `budget` (one line), or None if it fits."""
        if self.samples <= budget:
            return None
        if self.declared_only:
            return (
                f"image too large for this server: its header declares "
                f"{self.width / 1e6:.1f} MP, over the decode budget limit of "
                f"{budget / 1e6:.0f} M samples (pixels x channels)"
            )
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
    except Image.DecompressionBombError as err:
        # Past Pillow's own hard limit: the error names the declared pixel count only.
        found = re.search(r"\((\d+) pixels\)", str(err))
        return DecodeCost(int(found.group(1)) if found else 1 << 40, 1, 3, declared_only=True)
    except Exception:
        return None
    return DecodeCost(width, height, max(3, bands))


def video_cost(path: Path) -> DecodeCost:
    """One decoded frame of a video (frames are decoded one at a time, as RGB)."""
    info = probe_video(path)
    return DecodeCost(info.width, info.height, 3)


def frames_within(cost: DecodeCost, wanted: int, memory: int = DEFAULT_FRAME_MEMORY) -> int:
    """How many frames to sample from a video whose frames cost `cost`: `wanted`, or fewer
    where that many would hold more than `memory` samples at once (at least 1)."""
    return max(1, min(wanted, memory // (HELD_PER_SAMPLED * max(1, cost.samples))))
