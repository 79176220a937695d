"""`opendfa data import` options: one parser per importer, from the flags the importer declares.

`data import ROOT --format NAME --out FILE` reads its own three arguments; every other flag is
read by the parser of the chosen importer (`register_importer(name, flags)`), whose `dest`s are
the importer's keyword arguments. A flag that importer does not declare is a one-line error
naming the flags it does take.
"""

from __future__ import annotations

import argparse
from typing import Any

from opendfa.data.importers import IMPORTER_FLAGS


class _RaisingParser(argparse.ArgumentParser):
    """Raises `ValueError` where argparse would print usage and exit: the command reports
    one line (`opendfa: error: ...`), as for any other bad input."""

    def error(self, message: str):
        raise ValueError(message)


def importer_parser(name: str) -> argparse.ArgumentParser:
    """The parser of importer `name`'s options (KeyError for an unknown name)."""
    parser = _RaisingParser(prog=f"opendfa data import --format {name}", add_help=False)
    IMPORTER_FLAGS[name](parser)
    return parser


def importer_options(name: str, argv: list[str]) -> dict[str, Any]:
    """The keyword arguments for importer `name` from its flags in `argv` (unset ones left
    out, so the importer's defaults hold); ValueError for a flag it does not take."""
    parser = importer_parser(name)
    parsed, unknown = parser.parse_known_args(argv)
    if unknown:
        takes = ", ".join(_flags(parser)) or "none"
        flag = next((arg for arg in unknown if arg.startswith("-")), unknown[0])
        raise ValueError(f"{flag} does not apply to --format {name} (its options: {takes})")
    return {key: value for key, value in vars(parsed).items() if value is not None}


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    return [action.option_strings[0] for action in parser._actions if action.option_strings]
