"""Flags that several importers share, for the options each importer declares.

An importer's `flags(parser)` (given to `register_importer`) adds one flag per keyword
argument, with `dest` set to that keyword, so the parsed flags are the importer's arguments
as they are. Every flag defaults to None: an unset flag leaves the importer's own default.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def add_frame_options(parser: argparse.ArgumentParser, *, media: bool = True) -> None:
    """`--unit`, `--frames-per-video` and (for video datasets with extracted frames) `--media`."""
    parser.add_argument(
        "--unit",
        choices=("auto", "video", "frame"),
        default=None,
        help="one sample per video or per frame",
    )
    if media:
        parser.add_argument(
            "--media",
            choices=("auto", "videos", "frames"),
            default=None,
            help="read the videos or the extracted frames",
        )
    parser.add_argument(
        "--frames-per-video",
        type=int,
        default=None,
        metavar="N",
        help="with --unit frame: at most this many evenly spaced frames per video",
    )


def add_pairs_option(
    parser: argparse.ArgumentParser, flag: str, dest: str, metavar: str, help: str
) -> None:
    """A repeatable `NAME=VALUE` flag read into one dict (e.g. folder -> category)."""
    parser.add_argument(flag, dest=dest, action=PairsAction, metavar=metavar, help=help)


def add_category_option(parser: argparse.ArgumentParser) -> None:
    """`--category NAME=CATEGORY`: the category of a folder or method name the importer lacks."""
    add_pairs_option(
        parser,
        "--category",
        "categories",
        "NAME=CATEGORY",
        "category of a folder or manipulation name the importer does not know, "
        "e.g. MyMethod=face_swap (repeatable)",
    )


class PairsAction(argparse.Action):
    """Collects `NAME=VALUE` texts into a dict, one flag at a time."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs) -> None:
        super().__init__(option_strings, dest, default=None, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        key, sep, value = str(values).partition("=")
        if not sep or not key or not value:
            raise argparse.ArgumentError(self, f"expected NAME=VALUE, got {values!r}")
        pairs = dict(getattr(namespace, self.dest) or {})
        pairs[key] = value
        setattr(namespace, self.dest, pairs)


class OneOfMany(argparse.Action):
    """A flag other formats read several values of (`--compression c23 c40`) that this one
    keeps one of: one value, or a one-line error saying so."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs="+", default=None, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if len(values) != 1:
            raise argparse.ArgumentError(
                self, f"this format keeps one {option_string} level, got {len(values)}"
            )
        setattr(namespace, self.dest, values[0])
