"""DFA-Instruct from a small synthesized manifest: format, grounding, determinism, stats."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from opendfa.cli import main
from opendfa.data.splits import SplitConfig
from opendfa.data.synth import SynthConfig, synthesize
from opendfa.evidence.cues import cue_strength
from opendfa.instruct import InstructConfig, Measurements, build_instruct, describe
from opendfa.instruct.describe import CHANGED, COVERED, NOTABLE
from opendfa.instruct.templates import load_templates
from opendfa.metrics.answers import parse_category, parse_detection


@pytest.fixture(scope="module")
def manifest(tmp_path_factory, astronaut_path, hopper_path, face_detector):
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
    synthesize(faces, out, config, detector=face_detector)
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
        changed = re.search(r"Compared with the original photo, the (.+?) changed most", text)
        if changed:
            for name in re.split(r", | and ", changed.group(1)):
                assert m.compared[name.replace(" ", "_")] >= CHANGED, (name, text)
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
    assert "The width of the nose was changed." not in text and "covers the nose" in text
    told = describe(quiet, np.random.default_rng(0), "This face was edited.", method=True)
    assert "The width of the nose was changed." in told
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


def test_llm_descriptions_are_checked_cached_and_tallied(manifest, llm, tmp_path):
    from opendfa.instruct.describe import measurement_facts
    from opendfa.instruct.llm import LLMConfig, check_description

    assert check_description("The mouth is blurred.", "face_swap", ["mouth"]) is None
    assert (
        check_description("This face looks real.", "face_swap", ["mouth"]) == "calls the face real"
    )
    assert check_description("A face reenactment.", "face_swap", ["mouth"]).startswith("names")
    assert "untouched region" in check_description("The left eye is odd.", "face_swap", ["mouth"])
    m = Measurements(
        "face_swap",
        "opendfa.swap.poisson",
        0.2,
        {"mouth": 0.9, "nose": 0.0},
        {},
        {"mouth": {"blur_ratio": 2.5}},
    )
    facts = measurement_facts(m)
    assert check_description("The mouth is blurrier.", "face_swap", ["mouth"], facts) is None
    for unsupported in (
        "The mouth is sharper than the skin.",  # measured the other way
        "It is a self-blended image of the mouth.",  # a sub-technique
        "Compared with the original photo, the mouth changed.",  # no original shown
    ):
        assert check_description(unsupported, "face_swap", ["mouth"], facts), unsupported
    shown = measurement_facts(m, original=True)
    assert (
        check_description(
            "The mouth changed most, compared with the source photo.", "face_swap", ["mouth"], shown
        )
        is None
    )

    # Claims only what any fake's measurements hold: no cue, no method, no original.
    good = "The altered area has a texture that departs from the rest of the face."
    bad = "This face looks real."
    llm.replies = [(200, bad), (200, good)] + [(200, good)] * 50
    config = InstructConfig(
        seed=3,
        tasks=("AD",),
        llm=LLMConfig(
            base_url=llm.url,
            model="vlm",
            cache_dir=tmp_path / "cache",
            requests_per_minute=6000,
            retries=0,
            usd_per_1k_prompt=1.0,
        ),
    )
    first = build_instruct(manifest, tmp_path / "out", config)
    records = [
        json.loads(x) for x in (tmp_path / "out" / "instruct.jsonl").read_text().splitlines()
    ]
    assert {r["task"] for r in records} == {"AD"}
    assert all(r["ad_source"] == "llm" and r["conversations"][1]["value"] == good for r in records)
    tally = first.llm
    assert tally.rejected == 1 and tally.reasons == {"calls the face real": 1}
    assert tally.accepted == len(records) and tally.requests == len(records) + 1
    assert tally.prompt_tokens == 7 * tally.requests and tally.usd == pytest.approx(
        0.007 * tally.requests
    )
    image_parts = llm.requests[0]["body"]["messages"][0]["content"]
    assert image_parts[0]["image_url"]["url"].startswith("data:image/png;base64,")
    # A rebuild asks nothing: every reply comes from the cache.
    sent = len(llm.requests)
    again = build_instruct(manifest, tmp_path / "out", config)
    assert len(llm.requests) == sent and again.llm.cache_hits >= len(records)


def test_llm_failure_falls_back_to_grounded_text(manifest, tmp_path):
    from opendfa.instruct.llm import LLMConfig

    config = InstructConfig(
        tasks=("AD",), llm=LLMConfig(base_url="http://127.0.0.1:9/v1", retries=0, timeout=2)
    )
    report = build_instruct(manifest, tmp_path / "out", config)
    records = [
        json.loads(x) for x in (tmp_path / "out" / "instruct.jsonl").read_text().splitlines()
    ]
    assert records and all(r["ad_source"] == "grounded" for r in records)
    assert report.llm.failed == len(records)


@pytest.mark.slow
def test_bench_cli_with_the_detector_answerer(built, tiny_model, tmp_path, capsys):
    out, report, _ = built
    args = [
        "bench",
        "--data",
        str(out),
        "--answerer",
        "detector",
        "--model",
        tiny_model,
        "--split",
        "train",
        "--out",
        str(tmp_path / "bench"),
        "--no-progress",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| DF-D |" in printed and "ROUGE-L" in printed
    results = json.loads((tmp_path / "bench" / "results.json").read_text())
    assert results["n"] == {t: report.per_task[t] for t in ("DF-D", "DF-C", "AD")}
    # Every aligned crop gets a score: faces found, or the crop judged as the aligned face it is.
    assert results["DF-D"]["scored"] == results["n"]["DF-D"]
    assert main(["bench", "--data", str(out), "--answerer", "dfa-gpt", "--out", str(tmp_path)]) == 2


def test_ad_answers_say_only_what_a_report_could_show(built):
    """No sub-technique, no comparison with a source photo the user never gave, and every
    claim held by the sample's own measurements (the claim checker chat and DFA-Bench use)."""
    from opendfa.instruct.describe import measurement_facts
    from opendfa.metrics.claims import check_claims

    out, _, records = built
    checked = 0
    for record in (r for r in records if r["task"] in ("AD", "DF-C")):
        text = record["conversations"][1]["value"]
        assert "original" not in text.lower() and "self-blend" not in text.lower(), text
        if record["task"] != "AD":
            continue
        sample_id = record["id"].removesuffix("-AD")
        m = Measurements.from_json(
            json.loads((out / "measurements" / f"{sample_id}.json").read_text())
        )
        broken = [c for c in check_claims(text, measurement_facts(m)) if not c.holds]
        assert not broken, (text, broken)
        checked += 1
    assert checked


@pytest.fixture(scope="module")
def built_with_evidence(manifest, tmp_path_factory):
    from opendfa.models.configs import DEFAULT_MODEL

    out = tmp_path_factory.mktemp("instruct-evidence")
    config = InstructConfig(seed=3, crop_size=224, evidence_model=DEFAULT_MODEL)
    report = build_instruct(manifest, out, config)
    records = [json.loads(line) for line in (out / "instruct.jsonl").read_text().splitlines()]
    return out, report, records


def test_every_image_gets_the_bundled_detector_s_evidence_line(built_with_evidence):
    from opendfa.instruct.evidence import read_evidence_lines
    from opendfa.models.detector import load_detector

    out, _, records = built_with_evidence
    meta, lines = read_evidence_lines(out)
    bundled = load_detector().name  # the bundled detector's name@version
    assert meta == {"detector": bundled, "version": 2}
    assert set(lines) == {r["image"] for r in records}
    assert all(
        line.startswith("Detector evidence: verdict ") and " margin " in line
        for line in lines.values()
    )


def test_descriptions_are_written_only_where_the_evidence_agrees_and_hold_to_it(
    built_with_evidence,
):
    """AD and FC exist only for images whose detector verdict (and type) match the truth, and
    every answer in them holds against the evidence the model will read; DF-D and DF-C keep
    the ground truth for every image."""
    from opendfa.instruct.evidence import ImageEvidence

    out, _, records = built_with_evidence
    images = {r["image"] for r in records}
    for image in images:
        sample_id = image.removeprefix("images/").removesuffix(".png")
        row = json.loads((out / "evidence" / f"{sample_id}.json").read_text())["evidence"]
        evidence = ImageEvidence.from_json(row)
        mine = [r for r in records if r["image"] == image]
        assert {"DF-D", "DF-C"} <= {r["task"] for r in mine}
        described = [r for r in mine if r["task"] in ("AD", "FC")]
        if not evidence.agrees_with(mine[0]["label"], mine[0]["category"]):
            assert not described, (image, evidence.line)
        for record in described:
            turns = record["conversations"]
            for k in range(0, len(turns), 2):
                question = turns[k]["value"].replace("<image>", "").strip()
                assert evidence.holds(question, turns[k + 1]["value"]), (
                    evidence.line,
                    turns[k + 1]["value"],
                )


def test_restricted_keeps_regions_both_cover_and_only_the_worded_cue():
    from opendfa.instruct.evidence import ImageEvidence, restricted

    m = Measurements(
        category="face_swap",
        technique="opendfa.swap.alpha",
        mask_fraction=0.4,
        coverage={"mouth": 0.9, "nose": 0.8, "forehead": 0.7},
        face_cues={"blur_ratio": 2.5},
        region_cues={"mouth": {"noise_residual_ratio": 0.4}, "nose": {"blur_ratio": 2.0}},
    )
    evidence = ImageEvidence(
        line="...",
        verdict="fake",
        category="face_swap",
        fake_probability=0.9,
        margin=0.4,
        supported=["mouth", "left_eye"],
        region_scores={"mouth": 0.8, "left_eye": 0.7},
        region_cues={"mouth": {"illumination_mismatch": 9.0}, "left_eye": {}},
    )
    view = restricted(m, evidence)
    assert view.coverage == {"mouth": 0.9, "nose": 0.0, "forehead": 0.0}
    assert view.region_cues == {"mouth": {"illumination_mismatch": 9.0}} and view.face_cues == {}
    text = describe(view, np.random.default_rng(0), "This face is a face swap.")
    assert "mouth is brighter" in text and "nose" not in text and "blurrier" not in text
    assert evidence.holds("why?", text)
    assert not evidence.holds("why?", "The nose is blurrier than the surrounding skin.")


@pytest.mark.parametrize(("margin", "band"), [(0.45, "high"), (0.2, "moderate"), (0.05, "low")])
def test_how_sure_answers_follow_the_margin_band(margin, band):
    from opendfa.instruct.build import _sure_answer
    from opendfa.instruct.evidence import ImageEvidence
    from opendfa.metrics.claims import check_claims

    evidence = ImageEvidence("...", "fake", "face_swap", 0.5 + margin, margin)
    text = _sure_answer(evidence)
    said = {
        c.claim.value for c in check_claims(text, evidence.facts()) if c.claim.kind == "confidence"
    }
    assert said == {band} and evidence.holds("how sure are you?", text)
    other_margin = 0.05 if band != "low" else 0.45  # the words under another band: refused
    other = ImageEvidence("...", "fake", "face_swap", 0.5 + other_margin, other_margin)
    assert not other.holds("how sure are you?", text)


def test_a_folder_without_evidence_lines_is_refused_with_the_command_that_makes_them(built):
    from opendfa.instruct.evidence import read_evidence_lines

    out, _, _ = built
    with pytest.raises(FileNotFoundError, match="--evidence-model"):
        read_evidence_lines(out)
