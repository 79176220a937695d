"""`opendfa.cli_options`: one flag per config field, typed from the annotation, and back."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import pytest

from opendfa.cli_options import Flag, add_config_flags, config_from_flags, output_per_input


@dataclass
class Inner:
    width: int = 16
    scale_: float = 0.5


@dataclass
class Outer:
    data: str
    tasks: tuple[str, ...] = ("a", "b")
    limit: int | None = None
    balance: bool = True
    inner: Inner = field(default_factory=Inner)


def _parse(*argv: str, flags: dict[str, Flag] | None = None) -> Outer:
    parser = argparse.ArgumentParser()
    add_config_flags(parser, Outer, flags)
    return config_from_flags(parser.parse_args(argv), Outer)


def test_defaults_round_trip_and_a_field_without_default_is_required():
    assert _parse("--data", "d") == Outer("d")
    with pytest.raises(SystemExit):
        _parse()


def test_each_field_reads_its_type_and_nested_fields_take_their_path():
    config = _parse(
        "--data", "d", "--tasks", "x", "--limit", "3", "--no-balance", "--inner.width", "8",
        "--inner.scale", "2",
    )  # fmt: skip
    assert config == Outer("d", ("x",), 3, False, Inner(8, 2.0))


def test_a_renamed_flag_keeps_its_old_name_hidden(capsys):
    flags = {"inner.width": Flag(name="width", aliases=("old-width",), help="channels")}
    assert _parse("--data", "d", "--old-width", "4", flags=flags).inner.width == 4
    parser = argparse.ArgumentParser()
    add_config_flags(parser, Outer, flags)
    shown = parser.format_help()
    assert "--width" in shown and "--old-width" not in shown and "default: 16" in shown


def test_a_command_default_overrides_the_config_default():
    assert _parse("--data", "d", flags={"limit": Flag(default=7)}).limit == 7


def test_one_output_per_input(tmp_path):
    one, two = tmp_path / "a.jpg", tmp_path / "sub" / "a.jpg"
    assert output_per_input(None, [one], ".png") == {}
    assert output_per_input("x.png", [one], ".png")[one].name == "x.png"
    names = output_per_input("out", [one, two], ".html")
    assert [p.name for p in names.values()] == ["a.html", "a-1.html"]
