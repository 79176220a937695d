"""Lazy package exports: public names stay importable, their heavy modules load on first use.

`opendfa --help` must not pay for torch, scikit-learn or MediaPipe, yet `from opendfa.faces
import FaceDetector` must keep working. A package lists its exports as name -> submodule and
gets a module `__getattr__` (PEP 562) that imports the submodule only when a name is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, resolving `exports[name]` (a module) lazily."""

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals_of_package = importlib.import_module(package).__dict__
        globals_of_package[name] = value  # later look-ups skip __getattr__
        return value

    def __dir__() -> list[str]:
        names = importlib.import_module(package).__dict__
        return sorted(set(names) | set(exports))

    return __getattr__, __dir__
