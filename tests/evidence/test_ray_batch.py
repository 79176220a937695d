"""`--ray` batch mode on a local Ray: every input once, errors recorded, and a run killed
midway completes on restart without duplicates or losses."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

pytest.importorskip("ray")

from opendfa.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folder(tmp_path_factory, astronaut_path, hopper_path):
    root = tmp_path_factory.mktemp("inputs")
    shutil.copy(astronaut_path, root / "a.jpg")
    shutil.copy(hopper_path, root / "b.jpg")
    cv2.imwrite(str(root / "c-wall.png"), np.full((300, 300, 3), 128, np.uint8))
    (root / "d-broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_ray_batch_then_resume_after_a_kill(folder, tiny_model, tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    args = [
        "analyze",
        str(folder),
        "--out",
        str(out),
        "--model",
        tiny_model,
        "--ray",
        "--ray-actors",
        "1",
    ]
    code = main(args)
    assert code == 2  # one input failed
    reports = _lines(out)
    by_name = {r["input"]["path"].rsplit("/", 1)[-1]: r["verdict"] for r in reports}
    assert by_name == {
        "a.jpg": by_name["a.jpg"],
        "b.jpg": by_name["b.jpg"],
        "c-wall.png": "no_face",
        "d-broken.jpg": "error",
    }
    assert by_name["a.jpg"] in ("fake", "real", "inconclusive")
    # A kill midway: keep the first complete line and half of the second.
    text = out.read_text().splitlines(keepends=True)
    out.write_text(text[0] + text[1][: len(text[1]) // 2])
    capsys.readouterr()
    main(args)
    again = _lines(out)
    names = sorted(r["input"]["path"].rsplit("/", 1)[-1] for r in again)
    assert names == ["a.jpg", "b.jpg", "c-wall.png", "d-broken.jpg"]  # once each
    assert again[0] == reports[0]  # the surviving line is kept as it was


def test_ray_needs_out(folder, tiny_model, capsys):
    assert main(["analyze", str(folder), "--ray", "--model", tiny_model]) == 2
    assert "--ray needs --out" in capsys.readouterr().err
