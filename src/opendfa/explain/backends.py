"""The registry of answerers: a dict filled by a decorator, one factory, one CLI factory.

`Registry` is the mechanism; two tables are built on it. `BACKENDS` holds the chat backends:
each answers a `Question` about a `Report` given the conversation so far (`grounded`,
`openai`, `dfa-gpt`). DFA-Bench's answerers (`opendfa.bench.answerers.ANSWERERS`) answer a
question about an image file instead, and its `dfa-gpt` answerer is built from this table's
`dfa-gpt` backend. The built-in backends register themselves when their module is imported;
`make_backend` imports those modules on first use (they are light: a backend's heavy
dependencies load in its constructor), so adding a backend is one file and one line in
`BUILTIN_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from opendfa.explain.contract import Backend, ExplainError

T = TypeVar("T")


class Registry(dict[str, Callable[..., T]], Generic[T]):
    """Name -> class, filled by `@registry.register(name)`; the classes of `builtin_modules`
    register themselves when those modules are first imported (by `make` or `from_cli`)."""

    def __init__(self, kind: str, builtin_modules: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.kind = kind
        self.builtin_modules = builtin_modules

    def register(self, name: str):
        """Class decorator: `make(name, **options)` builds it. The class may define
        `cli_options(args) -> dict` to take its options from a command's arguments."""

        def decorate(cls):
            if name in self:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            cls.name = name
            self[name] = cls
            return cls

        return decorate

    def make(self, name: str, **options: Any) -> T:
        """The one named; `options` go to its constructor."""
        return self._class(name)(**options)

    def from_cli(self, name: str, args: argparse.Namespace) -> T:
        """The one named, built from a command's arguments (its `cli_options`)."""
        cls = self._class(name)
        options = cls.cli_options(args) if hasattr(cls, "cli_options") else {}
        return cls(**options)

    def _class(self, name: str) -> Callable[..., T]:
        for module in self.builtin_modules:
            importlib.import_module(module)
        if name not in self:
            raise ExplainError(f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self))}")
        return self[name]


BUILTIN_MODULES = (
    "opendfa.explain.grounded",
    "opendfa.explain.openai_backend",
    "opendfa.explain.dfagpt_backend",
)

BACKENDS: Registry[Backend] = Registry("backend", BUILTIN_MODULES)
register_backend = BACKENDS.register


def make_backend(name: str, **options: Any) -> Backend:
    """A backend by name; options go to its constructor (e.g. base_url, model for openai)."""
    return BACKENDS.make(name, **options)


def backend_from_cli(name: str, args: argparse.Namespace) -> Backend:
    """A backend built from the chat command's arguments (its `cli_options`)."""
    return BACKENDS.from_cli(name, args)
