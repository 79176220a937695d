"""`opendfa serve --copy-move`: the flag reaches the analyzer, and an uploaded image's report
carries the clone check the web UI shows."""

from __future__ import annotations

import argparse

from fastapi.testclient import TestClient

from opendfa.serve.app import ServerConfig, create_app
from opendfa.serve.cli import add_serve_command


def test_the_flag_is_off_by_default_and_turns_the_check_on(tiny_model, tmp_path, astronaut_path):
    parser = argparse.ArgumentParser()
    add_serve_command(parser.add_subparsers())
    assert parser.parse_args(["serve"]).copy_move is False
    assert parser.parse_args(["serve", "--copy-move"]).copy_move is True
    app = create_app(ServerConfig(data_dir=tmp_path / "store", model=tiny_model, copy_move=True))
    client = TestClient(app, base_url="http://localhost")
    with astronaut_path.open("rb") as handle:
        answer = client.post("/api/analyze", files={"file": ("a.jpg", handle, "image/jpeg")})
    assert answer.status_code == 201, answer.text
    report = answer.json()["report"]
    record = report["forensics"]["copy_move"]
    assert record is not None and record["keypoints"] > 100 and record["detected"] is False
