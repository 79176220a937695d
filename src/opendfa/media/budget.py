"""How much work one analysis may do: seconds, decoded video frames, and a cancel switch.

A hostile file can be small and still ask for hours of decoding (millions of tiny frames),
and a client that leaves should not keep the only worker busy. Every loop that decodes or
judges checks the same `WorkBudget`, so a request's cost is bounded wherever it is spent.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from opendfa.media.errors import MediaError

DEFAULT_MAX_SECONDS = 120.0
DEFAULT_MAX_DECODED_FRAMES = 20_000  # about 11 minutes at 30 fps: the frames one video may cost


class BudgetExceeded(MediaError):
    """The analysis ran out of time or was cancelled; `str(err)` is one line for the user."""


@dataclass
class WorkBudget:
    """Limits of one analysis. `cancel` is set by whoever gives up on the result (a server
    whose client left); `max_seconds=None` means no time limit."""

    max_seconds: float | None = DEFAULT_MAX_SECONDS
    max_decoded_frames: int = DEFAULT_MAX_DECODED_FRAMES
    cancel: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def out_of_time(self) -> bool:
        return self.max_seconds is not None and self.elapsed() > self.max_seconds

    def check(self, label: str | None = None) -> None:
        """Raise `BudgetExceeded` if the analysis was cancelled or is over its time."""
        if self.cancel.is_set():
            raise BudgetExceeded("analysis cancelled", label)
        if self.out_of_time():
            raise BudgetExceeded(
                f"analysis stopped: over its time limit of {self.max_seconds:g} s", label
            )
