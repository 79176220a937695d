"""`opendfa data import` options: every keyword option of every importer, as a CLI flag.

The importers (`opendfa.data.importers`) take their options as keyword arguments; this table
says which flag sets which argument and how its text is read. A flag given for a format
whose importer does not take it is an error naming the flags that format does take, and a
test checks that no importer option lacks a flag here.
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ImportFlag:
    """One CLI flag: its argparse settings and the importer arguments it fills."""

    flag: str
    params: tuple[str, ...]  # importer keyword arguments this flag sets (by name)
    help: str
    settings: dict[str, Any] = field(default_factory=dict)
    convert: Callable[[str, Any], Any] | None = None  # (param, parsed value) -> argument

    @property
    def dest(self) -> str:
        return "import_" + self.flag.lstrip("-").replace("-", "_")


def _pairs(param: str, values: list[str]) -> dict[str, str]:
    """`["A=b", "C=d"]` -> `{"A": "b", "C": "d"}` (for folder/label -> category maps)."""
    result = {}
    for text in values:
        key, sep, value = text.partition("=")
        if not sep or not key or not value:
            raise ValueError(f"expected NAME=VALUE, got {text!r}")
        result[key] = value
    return result


def _compression(param: str, values: list[str]) -> list[str] | str:
    """FF++ keeps several levels (`compressions`), a DeepfakeBench index one (`compression`)."""
    if param == "compressions":
        return values
    if len(values) != 1:
        raise ValueError(f"this format keeps one --compression level, got {len(values)}")
    return values[0]


def _one_or_many(param: str, values: list[str]) -> list[str] | str:
    return values[0] if len(values) == 1 else values


FLAGS = (
    ImportFlag(
        "--splits",
        ("splits_dir",),
        "ffpp: folder with the official train.json / val.json / test.json pair lists",
        {"metavar": "DIR"},
    ),
    ImportFlag(
        "--compression",
        ("compressions", "compression"),
        "ffpp: keep only these levels (c0/raw, c23, c40); deepfakebench: the one level to keep",
        {"nargs": "+", "metavar": "LEVEL"},
        _compression,
    ),
    ImportFlag(
        "--methods",
        ("methods",),
        "ffpp: keep only these manipulation folders (and the originals)",
        {"nargs": "+", "metavar": "METHOD"},
    ),
    ImportFlag(
        "--unit",
        ("unit",),
        "one sample per video or per frame (auto, video, frame)",
        {"choices": ("auto", "video", "frame")},
    ),
    ImportFlag(
        "--media",
        ("media",),
        "ffpp, celebdf, dfdc: read the videos or the extracted frames (auto, videos, frames)",
        {"choices": ("auto", "videos", "frames")},
    ),
    ImportFlag(
        "--frames-per-video",
        ("frames_per_video",),
        "with --unit frame: at most this many evenly spaced frames per video",
        {"type": int, "metavar": "N"},
    ),
    ImportFlag(
        "--category",
        ("categories",),
        "ffpp, df40, mmtt: category of a folder or manipulation name the importer does not "
        "know, e.g. MyMethod=face_swap (repeatable)",
        {"action": "append", "metavar": "NAME=CATEGORY"},
        _pairs,
    ),
    ImportFlag(
        "--test-list",
        ("test_list",),
        "celebdf: the test list (default: <root>/List_of_testing_videos.txt)",
        {"metavar": "FILE"},
    ),
    ImportFlag(
        "--split",
        ("split",),
        "df40: the split of every imported sample (train, val, test)",
        {"choices": ("train", "val", "test")},
    ),
    ImportFlag(
        "--data-root",
        ("data_root",),
        "deepfakebench: folder the index's frame paths are relative to",
        {"metavar": "DIR"},
    ),
    ImportFlag(
        "--rebase",
        ("rebase",),
        "deepfakebench: replace a path prefix of the index, OLD=NEW (repeatable)",
        {"action": "append", "metavar": "OLD=NEW"},
        _pairs,
    ),
    ImportFlag(
        "--label",
        ("labels",),
        "deepfakebench: category (or real) of a label name it does not know, NAME=CATEGORY "
        "(repeatable)",
        {"action": "append", "metavar": "NAME=CATEGORY"},
        _pairs,
    ),
    ImportFlag(
        "--check-files",
        ("check_files",),
        "deepfakebench: report listed frames that do not exist",
        {"action": "store_true"},
    ),
    ImportFlag(
        "--annotations",
        ("annotations",),
        "mmtt: annotation files to read (default: all in the root)",
        {"nargs": "+", "metavar": "FILE"},
        _one_or_many,
    ),
    ImportFlag(
        "--default-category",
        ("default_category",),
        "mmtt: category of fakes whose annotation names none",
        {"metavar": "CATEGORY"},
    ),
)


def add_import_flags(parser: argparse.ArgumentParser) -> None:
    """Add every importer option to `opendfa data import` (all unset by default)."""
    group = parser.add_argument_group("importer options (each applies to the formats named)")
    for spec in FLAGS:
        settings = {"default": None, **spec.settings}
        group.add_argument(spec.flag, dest=spec.dest, help=spec.help, **settings)


def importer_options(args: argparse.Namespace, importer: Callable[..., Any]) -> dict[str, Any]:
    """The keyword arguments for `importer` from the flags given; ValueError for a flag the
    importer does not take, or a value its flag cannot read."""
    accepted = _keyword_params(importer)
    options: dict[str, Any] = {}
    for spec in FLAGS:
        value = getattr(args, spec.dest, None)
        if value is None or value is False:
            continue
        params = [p for p in spec.params if p in accepted]
        if not params:
            takes = ", ".join(s.flag for s in FLAGS if accepted.intersection(s.params))
            raise ValueError(
                f"{spec.flag} does not apply to --format {args.format} "
                f"(its options: {takes or 'none'})"
            )
        param = params[0]
        try:
            options[param] = spec.convert(param, value) if spec.convert else value
        except ValueError as err:
            raise ValueError(f"{spec.flag}: {err}") from None
    return options


def _keyword_params(importer: Callable[..., Any]) -> set[str]:
    return {
        p.name
        for p in inspect.signature(importer).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
