"""The instruction template library (`templates.json`, data not code) and seeded sampling."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

TEMPLATES_PATH = Path(__file__).with_name("templates.json")
TASKS = ("DF-D", "DF-C", "AD", "FC")


@cache
def load_templates(path: str | None = None) -> dict:
    data = json.loads(Path(path or TEMPLATES_PATH).read_text(encoding="utf-8"))
    if data.get("schema") != "opendfa.instruct-templates/1":
        raise ValueError(f"not an OpenDFA template library: {path or TEMPLATES_PATH}")
    return data


def pick(options: list[str], rng: np.random.Generator) -> str:
    if not options:
        raise ValueError("empty template list")
    return options[int(rng.integers(len(options)))]
