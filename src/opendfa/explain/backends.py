"""The registry of answer backends: a dict filled by `@register_backend`, one factory.

A backend answers a `Question` about a `Report` given the conversation so far. The built-in
ones (`grounded`, `openai`, `dfa-gpt`) register themselves when their module is imported;
`make_backend` imports those modules on first use (they are light: a backend's heavy
dependencies load in its constructor), so adding a backend is one file and one line in
`BUILTIN_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any

from opendfa.explain.contract import Backend, ExplainError

BUILTIN_MODULES = (
    "opendfa.explain.grounded",
    "opendfa.explain.openai_backend",
    "opendfa.explain.dfagpt_backend",
)

BACKENDS: dict[str, Callable[..., Backend]] = {}


def register_backend(name: str):
    """Class decorator: `make_backend(name, **options)` builds it. The class may define
    `cli_options(args) -> dict` to take its options from `opendfa chat`'s arguments."""

    def decorate(cls):
        if name in BACKENDS:
            raise ValueError(f"backend {name!r} is registered twice")
        cls.name = name
        BACKENDS[name] = cls
        return cls

    return decorate


def _load_builtin() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def make_backend(name: str, **options: Any) -> Backend:
    """A backend by name; options go to its constructor (e.g. base_url, model for openai)."""
    _load_builtin()
    if name not in BACKENDS:
        raise ExplainError(f"unknown backend {name!r}; known: {', '.join(sorted(BACKENDS))}")
    return BACKENDS[name](**options)


def backend_from_cli(name: str, args: argparse.Namespace) -> Backend:
    """A backend built from the chat command's arguments (its `cli_options`)."""
    _load_builtin()
    if name not in BACKENDS:
        raise ExplainError(f"unknown backend {name!r}; known: {', '.join(sorted(BACKENDS))}")
    cls = BACKENDS[name]
    options = cls.cli_options(args) if hasattr(cls, "cli_options") else {}
    return cls(**options)
