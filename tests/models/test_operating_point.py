"""The detector's operating point: chosen on genuine faces' scores, kept beside the weights."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from opendfa.models.operating_point import (
    OPERATING_FILE,
    OperatingPoint,
    choose_threshold,
    load_operating_point,
    save_operating_point,
)


def test_threshold_lets_through_at_most_the_target_share_of_reals():
    reals = np.linspace(0.0, 0.99, 100)  # 0.00, 0.01, ..., 0.99
    threshold = choose_threshold(reals, 0.05)
    assert (reals >= threshold).sum() == 5
    assert 0.94 < threshold <= 0.95 + 1e-12  # just above 0.94: the sixth-highest stays real


def test_threshold_never_falls_below_the_floor():
    reals = np.full(50, 0.1)
    assert choose_threshold(reals, 0.05) == 0.5
    assert choose_threshold(reals, 0.05, floor=0.3) == 0.3


def test_zero_target_puts_the_line_above_every_real():
    reals = np.array([0.2, 0.7, 0.91])
    threshold = choose_threshold(reals, 0.0)
    assert threshold > 0.91 and not (reals >= threshold).any()


def test_ties_at_the_line_are_not_split():
    """Ten reals share one score: either all pass or none, so none may pass at 5 %."""
    reals = np.concatenate([np.full(10, 0.8), np.zeros(90)])
    threshold = choose_threshold(reals, 0.05)
    assert (reals >= threshold).sum() == 0


@pytest.mark.parametrize("bad", [np.array([]), np.array([0.2, np.nan])])
def test_threshold_refuses_empty_or_broken_scores(bad):
    with pytest.raises(ValueError):
        choose_threshold(bad, 0.05)


def test_saved_point_loads_only_for_its_own_weights(tmp_path):
    save_operating_point(tmp_path, OperatingPoint(0.61), "abc", {"rule": "pooled"})
    point = load_operating_point(tmp_path, "abc")
    assert point is not None and point.threshold == pytest.approx(0.61)
    assert point.info["rule"] == "pooled"
    assert load_operating_point(tmp_path, "other weights") is None
    assert load_operating_point(None, "abc") is None


@pytest.mark.parametrize(
    "content", ["{not json", json.dumps([1]), json.dumps({"format": "opendfa.operating_point/1"})]
)
def test_broken_file_means_no_operating_point(tmp_path, content):
    (tmp_path / OPERATING_FILE).write_text(content)
    assert load_operating_point(tmp_path, "abc") is None


def test_out_of_range_threshold_is_refused_on_save_and_ignored_on_load(tmp_path):
    with pytest.raises(ValueError):
        save_operating_point(tmp_path, OperatingPoint(1.0), "abc", {})
    record = {"format": "opendfa.operating_point/1", "weights_sha256": "abc", "threshold": 0.0}
    (tmp_path / OPERATING_FILE).write_text(json.dumps(record))
    assert load_operating_point(tmp_path, "abc") is None


def test_loaded_detector_reads_its_folder_point(tmp_path):
    from opendfa.models.detector import load_detector
    from tiny_models import save_random_detector

    folder = save_random_detector(tmp_path / "tiny", name="tiny", input_size=64)
    assert load_detector(folder).decision_threshold == 0.5
    sha = load_detector(folder).weights_sha256
    save_operating_point(folder, OperatingPoint(0.7), sha, {})
    assert load_detector(folder).decision_threshold == pytest.approx(0.7)
    copy = shutil.copytree(folder, tmp_path / "copy")
    (copy / OPERATING_FILE).write_text((folder / OPERATING_FILE).read_text().replace(sha, "x"))
    assert load_detector(copy).decision_threshold == 0.5


def test_crop_judgement_uses_the_detector_operating_point(tmp_path):
    """The chat's and trainer's crop judge draws the same line as the analysis."""
    from opendfa.evidence.judge import judge_crops
    from opendfa.models.detector import load_detector
    from tiny_models import save_random_detector

    folder = save_random_detector(tmp_path / "tiny", name="tiny", input_size=64)
    crops = np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    p = judge_crops(load_detector(folder), crops)[0].fake_probability
    line = float(np.nextafter(p, 1.0))  # just above this crop's score
    save_operating_point(folder, OperatingPoint(line), load_detector(folder).weights_sha256, {})
    judged = judge_crops(load_detector(folder), crops)[0]
    assert judged.threshold == pytest.approx(line) and judged.verdict == "real"
    assert judge_crops(load_detector(folder), crops, threshold=p)[0].verdict == "fake"
