"""The command line's shared pieces: flags built from config dataclasses, and the option
groups several commands share, so a setting is named and defaulted once.

Every field is one flag named after its path: `batch_size` is `--batch-size`, a field of a
nested config is `--model.input-size`, a trailing underscore is dropped (`lambda_` is
`--adversarial.lambda`). The type comes from the annotation: a bool is `--x` / `--no-x`,
`X | None` reads an X, `tuple[X, ...]` reads one or more. What a field cannot say (help,
choices, a command's own default, an older name still accepted) comes from a `Flag` in the
command's table, keyed by the field's path (`"model.input_size"`).

    add_config_flags(parser, DetectorTrainConfig, DETECTOR_FLAGS)
    config = config_from_flags(parser.parse_args(argv), DetectorTrainConfig)

It imports no more than the models' default names (`opendfa.models.configs`), so that
`opendfa --help` stays light.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opendfa.models.configs import DEFAULT_MODEL

DEFAULT_ENDPOINT = "http://127.0.0.1:8000/v1"
FROM_CONFIG = object()  # a `Flag` whose default is the config field's own


@dataclasses.dataclass(frozen=True)
class Flag:
    """How one config field shows on the command line, beyond what the field itself says."""

    help: str | None = None
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    name: str | None = None  # the flag without `--`, where it is not the field's path
    aliases: tuple[str, ...] = ()  # older names, still accepted, not shown in --help
    default: Any = FROM_CONFIG  # the command's own default, where it differs


def add_config_flags(
    parser: argparse.ArgumentParser,
    config_type: type,
    flags: Mapping[str, Flag] | None = None,
    *,
    prefix: str = "",
    title: str | None = None,
) -> None:
    """Add one flag per field of the dataclass `config_type` (nested configs: one group each)."""
    flags = flags or {}
    group = parser.add_argument_group(title) if title else parser
    hints = typing.get_type_hints(config_type)
    for field in dataclasses.fields(config_type):
        path = f"{prefix}{field.name}"
        kind = _unwrap_optional(hints[field.name])
        if dataclasses.is_dataclass(kind):
            add_config_flags(parser, kind, flags, prefix=f"{path}.", title=f"{path} settings")
            continue
        spec = flags.get(path, Flag())
        default = _default(field) if spec.default is FROM_CONFIG else spec.default
        options = _argparse_options(kind, spec, metavar=field.name.rstrip("_").upper())
        if default is dataclasses.MISSING:
            options["required"] = True
        else:
            options["default"] = list(default) if isinstance(default, tuple) else default
            if default not in (None, "") and kind is not bool:  # a bool shows its own
                shown = "default: %(default)s"
                options["help"] = f"{spec.help} ({shown})" if spec.help else shown
        group.add_argument(f"--{spec.name or _flag_name(path)}", dest=path, **options)
        hidden = {**options, "help": argparse.SUPPRESS, "default": argparse.SUPPRESS}
        hidden.pop("required", None)
        for alias in spec.aliases:
            group.add_argument(f"--{alias}", dest=path, **hidden)


def config_from_flags(args: argparse.Namespace, config_type: type, prefix: str = "") -> Any:
    """The `config_type` the parsed flags of `add_config_flags` describe."""
    values = vars(args)
    hints = typing.get_type_hints(config_type)
    kwargs = {}
    for field in dataclasses.fields(config_type):
        path = f"{prefix}{field.name}"
        kind = _unwrap_optional(hints[field.name])
        if dataclasses.is_dataclass(kind):
            kwargs[field.name] = config_from_flags(args, kind, prefix=f"{path}.")
        elif path in values:
            value = values[path]
            kwargs[field.name] = tuple(value) if isinstance(value, list) else value
    return config_type(**kwargs)


def _argparse_options(kind: Any, spec: Flag, metavar: str) -> dict[str, Any]:
    """How argparse reads a field of type `kind`: a bool as --x/--no-x, a tuple as a list."""
    options: dict[str, Any] = {"help": spec.help}
    if kind is bool:
        options["action"] = argparse.BooleanOptionalAction
        return options
    if typing.get_origin(kind) is tuple:
        kind = typing.get_args(kind)[0]
        options["nargs"] = "+"
    options["type"] = kind
    if spec.choices:
        options["choices"] = spec.choices
    else:
        options["metavar"] = spec.metavar or metavar
    return options


def _unwrap_optional(hint: Any) -> Any:
    """`X | None` -> X (the flag reads an X; None is reachable only as the default)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kinds = [k for k in typing.get_args(hint) if k is not type(None)]
        if len(kinds) == 1:
            return kinds[0]
    return hint


def _default(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _flag_name(path: str) -> str:
    return ".".join(part.rstrip("_").replace("_", "-") for part in path.split("."))


def add_detector_option(parser: argparse.ArgumentParser, help: str = "detector name or folder"):
    """`--model NAME|PATH`: the detector a command runs (default: the bundled one)."""
    parser.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME|PATH", help=help)


def add_forensic_stream_option(parser: argparse.ArgumentParser) -> None:
    """`--forensic-stream DIR`: also judge each face with a pixel-level stream model; fused
    with the detector where the model carries a fusion fitted on validation faces."""
    parser.add_argument(
        "--forensic-stream",
        metavar="DIR",
        default=None,
        help="also judge each face with this pixel-level forensic-stream model (experimental)",
    )


def add_device_option(parser: argparse.ArgumentParser, help: str) -> None:
    """`--device`: where the detector (or a training run) computes."""
    parser.add_argument("--device", default="cpu", help=help)


def add_endpoint_options(parser: argparse.ArgumentParser, used_by: str) -> None:
    """`--endpoint` (alias `--base-url`) and `--llm`: an OpenAI-compatible chat endpoint."""
    parser.add_argument(
        "--endpoint",
        "--base-url",
        dest="base_url",
        default=DEFAULT_ENDPOINT,
        help=f"OpenAI-compatible endpoint for {used_by}",
    )
    parser.add_argument("--llm", default="default", help="model name at the endpoint")


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """`--no-progress`: no progress bars (logs, CI)."""
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def output_per_input(target: str | None, inputs: list[Path], suffix: str) -> dict[Path, Path]:
    """Where each input's output file goes (`--overlay`, `--report`): `target` itself for one
    input and a file name, else `target/<stem><suffix>` (numbered where two stems meet)."""
    if not target:
        return {}
    where = Path(target)
    if len(inputs) == 1 and where.suffix:
        return {inputs[0]: where}
    names: dict[Path, Path] = {}
    for number, path in enumerate(inputs):
        name = f"{path.stem}{suffix}"
        if any(p.name == name for p in names.values()):
            name = f"{path.stem}-{number}{suffix}"
        names[path] = where / name
    return names
