"""DFA-Instruct from a small synthesized manifest: format, grounding, determinism, stats."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from opendfa.bench.parse import parse_category, parse_detection
from opendfa.cli import main
from opendfa.data.splits import SplitConfig
from opendfa.data.synth import SynthConfig, synthesize
from opendfa.evidence.cues import cue_strength
from opendfa.instruct import InstructConfig, Measurements, build_instruct, describe
from opendfa.instruct.describe import COVERED, NOTABLE
from opendfa.instruct.templates import load_templates


@pytest.fixture(scope="module")
def manifest(tmp_path_factory, astronaut_path, hopper_path, detector):
    faces = tmp_path_factory.mktemp("faces")
    for name, path in (("collins", astronaut_path), ("hopper", hopper_path)):
        (faces / name).mkdir()
        shutil.copy(path, faces / name / path.name)
    out = tmp_path_factory.mktemp("synth")
    config = SynthConfig(
        methods=("face_swap", "face_editing", "face_reenactment", "self_blend"),
        per_face=1,
        seed=1,
        splits=SplitConfig(train=1.0, val=0.0, test=0.0),
    )
    synthesize(faces, out, config, detector=detector)
    return out / "manifest.jsonl"


@pytest.fixture(scope="module")
def built(manifest, tmp_path_factory):
    out = tmp_path_factory.mktemp("instruct")
    report = build_instruct(manifest, out, InstructConfig(seed=3))
    records = [json.loads(line) for line in (out / "instruct.jsonl").read_text().splitlines()]
    return out, report, records


def test_template_library_is_large_enough():
    templates = load_templates()
    assert len(set(templates["DF-D"]["questions"])) >= 40
    assert len(set(templates["DF-C"]["questions"])) >= 40
    assert len(set(templates["AD"]["questions"])) >= 30


def test_records_are_llava_conversations_with_images(built):
    out, report, records = built
    assert report.records == len(records) and not report.problems
    assert len({r["id"] for r in records}) == len(records)
    for record in records:
        turns = record["conversations"]
        assert [t["from"] for t in turns] == ["human", "gpt"] * (len(turns) // 2)
        assert turns[0]["value"].startswith("<image>\n")
        assert sum("<image>" in t["value"] for t in turns) == 1
        assert (out / record["image"]).exists()
    tasks = {r["task"] for r in records}
    assert tasks == {"DF-D", "DF-C", "AD", "FC"}
    assert all(r["label"] == "fake" for r in records if r["task"] == "AD")
    train = json.loads((out / "train.json").read_text())
    assert len(train) == len(records)


def test_answers_state_the_ground_truth(built):
    _, _, records = built
    for record in records:
        answer = record["conversations"][1]["value"]
        if record["task"] == "DF-D":
            assert parse_detection(answer) == record["label"], answer
        if record["task"] == "DF-C":
            assert parse_category(answer) == record["category"], answer


def test_ad_names_only_covered_regions_and_measured_cues(built):
    out, _, records = built
    for record in (r for r in records if r["task"] == "AD"):
        sample_id = record["id"].removesuffix("-AD")
        m = Measurements.from_json(
            json.loads((out / "measurements" / f"{sample_id}.json").read_text())
        )
        text = record["conversations"][1]["value"]
        listed = re.search(r"The manipulated area covers the (.+?)\.", text)
        if listed and listed.group(1) != "whole face":
            for name in re.split(r", | and ", listed.group(1)):
                assert m.coverage[name.replace(" ", "_")] >= COVERED, (name, text)
        for region, word in re.findall(r"The ([a-z ]+?) is (blurrier|sharper) than", text):
            cues = (
                m.face_cues
                if region == "manipulated area"
                else m.region_cues[region.replace(" ", "_")]
            )
            value = cues["blur_ratio"]
            assert (value > 1) == (word == "blurrier") and cue_strength(
                "blur_ratio", value
            ) >= NOTABLE


def test_describe_never_invents_a_cue():
    quiet = Measurements(
        "face_editing",
        "opendfa.edit.nose_width",
        0.05,
        {"nose": 0.9},
        {"blur_ratio": 1.05},
        {"nose": {"blur_ratio": 1.1, "noise_residual_ratio": 0.97}},
    )
    text = describe(quiet, np.random.default_rng(0), "This face was edited.")
    assert "The width of the nose was changed." in text and "covers the nose" in text
    assert "blurrier" not in text and "more noise" not in text and "smooth" not in text
    assert "show no strong step" in text  # and it says so
    loud = Measurements(
        "face_editing",
        "opendfa.edit.nose_width",
        0.05,
        {"nose": 0.9},
        {},
        {"nose": {"blur_ratio": 2.5}},
    )
    assert "The nose is blurrier than" in describe(loud, np.random.default_rng(0), "Edited.")


def test_rebuild_is_identical_and_reuses_measurements(built, manifest, tmp_path):
    out, first, _ = built
    again = build_instruct(manifest, out, InstructConfig(seed=3))
    assert again.measured == 0 and again.reused == first.measured + first.images - first.measured
    copy = tmp_path / "copy"
    build_instruct(manifest, copy, InstructConfig(seed=3))
    assert (copy / "instruct.jsonl").read_text() == (out / "instruct.jsonl").read_text()
    other = tmp_path / "other"
    build_instruct(manifest, other, InstructConfig(seed=4))
    assert (other / "instruct.jsonl").read_text() != (out / "instruct.jsonl").read_text()


def test_stats_cli_prints_the_table(built, capsys):
    out, report, _ = built
    assert main(["instruct", "stats", str(out)]) == 0
    table = capsys.readouterr().out
    assert (
        f"QA pairs: {sum(report.per_task.values()) + 2 * report.per_task['FC'] * 0}" in table
        or "QA pairs" in table
    )
    assert "DF-D" in table and "train" in table and "face_swap" in table
    assert main(["instruct", "stats", str(out / "nothing")]) == 2
