"""`opendfa serve --forensic-stream DIR` and `opendfa chat --forensic-stream DIR`: the flag
reaches the analysis, and an uploaded image's report carries the pixel-level judgement."""

from __future__ import annotations

import argparse

import torch
from fastapi.testclient import TestClient

from opendfa.explain.cli import add_chat_command
from opendfa.models.forensic import ForensicConfig, ForensicNet, save_forensic
from opendfa.serve.app import ServerConfig, create_app
from opendfa.serve.cli import add_serve_command


def test_serve_and_chat_take_a_stream_and_the_upload_is_judged_by_it(
    tiny_model, tmp_path, astronaut_path
):
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    add_serve_command(commands)
    add_chat_command(commands)
    assert parser.parse_args(["serve"]).forensic_stream is None
    assert parser.parse_args(["serve", "--forensic-stream", "m"]).forensic_stream == "m"
    assert parser.parse_args(["chat", "x.jpg", "--forensic-stream", "m"]).forensic_stream == "m"
    torch.manual_seed(0)
    folder = save_forensic(ForensicNet(ForensicConfig(width=8, depth=1)), tmp_path / "m")
    config = ServerConfig(
        data_dir=tmp_path / "store", model=tiny_model, forensic_stream=str(folder)
    )
    client = TestClient(create_app(config), base_url="http://localhost")
    with astronaut_path.open("rb") as handle:
        answer = client.post("/api/analyze", files={"file": ("a.jpg", handle, "image/jpeg")})
    assert answer.status_code == 201, answer.text
    [face] = answer.json()["report"]["faces"]
    stream = face["forensic_stream"]
    assert stream["made"] and 0.0 < stream["probability"] < 1.0
    assert stream["model"] == "m@1" and stream["map"]["format"] == "png-base64"
    assert face["semantic_probability"] == face["fake_probability"]  # no fusion in this model
