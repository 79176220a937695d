"""Lazy package exports: public names stay importable, their heavy modules load on first use.

`opendfa --help` must not pay for torch, scikit-learn or MediaPipe, yet `from opendfa.faces
import FaceDetector` must keep working. A package lists its exports as name -> submodule and
gets a module `__getattr__` (PEP 562) that imports the submodule only when a name is asked for.

A name may be exported from a submodule of the same name (`opendfa.instruct.describe`, the
function, lives in `opendfa.instruct.describe`, the module). Whenever Python imports a
submodule it binds it on its package (`setattr(package, "describe", module)`), which would
hide the export from then on, so `from opendfa.instruct import describe` would return the
module. The package's module class is therefore swapped for `LazyPackage`, whose `__setattr__`
binds the exported object instead of its submodule: as with an eager `from .describe import
describe` in `__init__`, the export wins. The submodule itself stays importable by its dotted
name (`from opendfa.instruct.describe import measure`, `sys.modules`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from types import ModuleType

_EXPORTS_KEY = "__lazy_exports__"


class LazyPackage(ModuleType):
    """A package module whose exports are never shadowed by same-named submodules."""

    def __setattr__(self, name: str, value: object) -> None:
        exports: Mapping[str, str] = self.__dict__.get(_EXPORTS_KEY, {})
        if (
            isinstance(value, ModuleType)
            and exports.get(name) == value.__name__ == f"{self.__name__}.{name}"
            and name in value.__dict__
        ):
            value = value.__dict__[name]  # the function `describe`, not the module `describe`
        super().__setattr__(name, value)


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, resolving `exports[name]` (a module) lazily.

    Call it from the package's `__init__`; it also makes the package a `LazyPackage`, so an
    export named like its submodule is not replaced by that submodule once it is imported.
    """
    module_of_package = sys.modules[package]
    module_of_package.__dict__[_EXPORTS_KEY] = dict(exports)
    if not isinstance(module_of_package, LazyPackage):
        module_of_package.__class__ = LazyPackage

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip __getattr__
        return value

    def __dir__() -> list[str]:
        names = sys.modules[package].__dict__
        return sorted((set(names) - {_EXPORTS_KEY}) | set(exports))

    return __getattr__, __dir__
