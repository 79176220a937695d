"""Where OpenDFA keeps what it builds or gathers on one machine: `$OPENDFA_CACHE`, by default
`~/.cache/opendfa` (the converted language model, downloaded wheels, ONNX Runtime's
optimised graphs). Everything in it can be deleted; it is rebuilt when next needed."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("OPENDFA_CACHE", Path.home() / ".cache" / "opendfa"))
