"""Sample records, JSONL manifests with per-line validation, and identity-disjoint splits."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from opendfa.data import (
    Sample,
    SplitConfig,
    assign_splits,
    check_disjoint,
    identity_split,
    read_manifest,
    write_manifest,
)


def make(i: int, identity: str, category: str = "face_swap", source: str | None = None) -> Sample:
    return Sample(
        id=f"s{i}",
        path=f"img/{i}.png",
        label="real" if category == "real" else "fake",
        category=category,
        technique="real" if category == "real" else "opendfa.swap.alpha",
        identity=identity,
        source_identity=source,
        target_identity=identity,
    )


def test_sample_validates_label_category_and_split():
    with pytest.raises(ValueError, match="contradicts"):
        Sample(id="a", path="p", label="real", category="face_swap", technique="t", identity="x")
    with pytest.raises(ValueError, match="unknown category"):
        Sample(id="a", path="p", label="fake", category="morph", technique="t", identity="x")
    with pytest.raises(ValueError, match="split"):
        Sample(
            id="a",
            path="p",
            label="fake",
            category="face_swap",
            technique="t",
            identity="x",
            split="dev",
        )
    with pytest.raises(ValueError, match="unknown field"):
        Sample.from_json(
            {
                "id": "a",
                "path": "p",
                "label": "real",
                "category": "real",
                "technique": "r",
                "identity": "x",
                "colour": 1,
            }
        )


def test_manifest_round_trip_and_bad_lines_are_reported_with_numbers(tmp_path: Path):
    path = tmp_path / "manifest.jsonl"
    samples = [make(i, f"id{i}") for i in range(3)]
    assert write_manifest(path, samples) == 3
    lines = path.read_text().splitlines()
    lines.insert(1, "{not json")
    lines.insert(
        3,
        json.dumps(
            {
                "id": "x",
                "path": "p",
                "label": "fake",
                "category": "real",
                "technique": "t",
                "identity": "i",
            }
        ),
    )
    lines.append(lines[0])  # duplicate id
    lines.append("")
    path.write_text("\n".join(lines) + "\n")
    manifest = read_manifest(path)
    assert [s.id for s in manifest.samples] == ["s0", "s1", "s2"]
    assert [p.line for p in manifest.problems] == [2, 4, 6]
    assert "invalid JSON" in str(manifest.problems[0]) and "contradicts" in str(
        manifest.problems[1]
    )
    assert "duplicate id" in str(manifest.problems[2])
    assert manifest.resolve("img/0.png") == tmp_path / "img/0.png"
    assert manifest.samples[0] == samples[0]


def test_splits_are_deterministic_identity_disjoint_and_near_the_fractions():
    samples = [make(i, f"person{i // 3}") for i in range(3000)]
    first = assign_splits(samples)
    assert [s.split for s in first] == [s.split for s in assign_splits(samples)]
    assert check_disjoint(first) == []
    people = Counter(identity_split(f"person{i}") for i in range(1000))
    assert 0.91 < people["train"] / 1000 < 0.97 and 0.03 < people["test"] / 1000 < 0.09
    other = [identity_split(f"person{i}", SplitConfig(0.5, 0.3, 0.2, seed=3)) for i in range(1000)]
    assert 0.4 < other.count("train") / 1000 < 0.6 and 0.12 < other.count("val") / 1000 < 0.28


def test_a_person_keeps_their_split_when_others_are_added():
    small = assign_splits([make(i, f"p{i}") for i in range(50)])
    large = assign_splits([make(i, f"p{i}") for i in range(500)])
    assert [s.split for s in small] == [s.split for s in large[:50]]


def test_a_swap_across_splits_is_left_out_not_leaked():
    config = SplitConfig(train=0.5, test=0.5, val=0.0)
    people = [f"p{i}" for i in range(40)]
    train = next(p for p in people if identity_split(p, config) == "train")
    test = next(p for p in people if identity_split(p, config) == "test")
    crossing = assign_splits([make(0, test, source=train), make(1, train), make(2, test)], config)
    assert crossing[0].split is None
    assert check_disjoint(crossing) == []


def test_invalid_split_fractions_are_rejected():
    with pytest.raises(ValueError, match="sum to 1"):
        SplitConfig(train=0.9, test=0.2, val=0.0)
