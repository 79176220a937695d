"""Scale-out through the one training engine: 2 CPU processes (gloo, launched by torchrun)
against 1. Every process takes its share of each global batch and DDP averages the gradients,
so a network without batch norm takes the same steps; the detector (batch norm on each
process's share, Adam) agrees within a tolerance."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("ddp_worker.py")
TEARDOWN_ABORT = "terminate called without an active exception"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _launch(processes: int, *args: str, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)

    def run() -> subprocess.CompletedProcess:
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={processes}",
            "--master_addr=127.0.0.1",
            f"--master_port={_free_port()}",
            str(WORKER),
            *args,
            str(out),
        ]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)

    done = run()
    if done.returncode != 0 and TEARDOWN_ABORT in done.stderr:
        # gloo can still abort a process at teardown (pytorch/pytorch#190489; 0 in 40 runs here,
        # once in CI): run once more, so that only a failure that repeats counts
        done = run()
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((out / "run.json").read_text())
    assert result["world"] == processes
    return result


def test_two_processes_take_the_same_steps_as_one(tmp_path):
    one = _launch(1, "engine", out=tmp_path / "one")
    two = _launch(2, "engine", out=tmp_path / "two")
    assert len(one["losses"]) == len(two["losses"]) == 4
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=1e-5)
    for name, weights in one["weights"].items():
        np.testing.assert_allclose(two["weights"][name], weights, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_detector_trains_on_two_processes_like_on_one(manifest_path, tmp_path):
    one = _launch(1, "detector", str(manifest_path), out=tmp_path / "one")
    two = _launch(2, "detector", str(manifest_path), out=tmp_path / "two")
    first = [epoch["total"] for epoch in one["history"]]
    second = [epoch["total"] for epoch in two["history"]]
    np.testing.assert_allclose(second, first, rtol=0.05)
    a = load_file(str(tmp_path / "one" / "model.safetensors"))
    b = load_file(str(tmp_path / "two" / "model.safetensors"))
    assert a.keys() == b.keys()
    trained = [k for k in a if "running_" not in k and "num_batches" not in k]
    # AdamW moves each weight by at most about lr per step (4 steps of 1e-3 here): the two runs
    # may differ by no more than that, and the weights as a whole by a few per cent.
    assert max(float((a[k] - b[k]).abs().max()) for k in trained) <= 2 * 4 * 1e-3 * 1.05
    difference = sum(float(((a[k] - b[k]) ** 2).sum()) for k in trained) ** 0.5
    size = sum(float((a[k] ** 2).sum()) for k in trained) ** 0.5
    assert difference / size < 0.05


@pytest.mark.slow
def test_generator_trains_on_two_processes_like_on_one(tmp_path):
    one = _launch(1, "generator", out=tmp_path / "one")
    two = _launch(2, "generator", out=tmp_path / "two")
    np.testing.assert_allclose(two["history"], one["history"], rtol=0.05)


@pytest.mark.slow
def test_dfa_gpt_trains_on_two_processes_like_on_one(toy_instruct_dir, tiny_lm_dir, tmp_path):
    data, lm = str(toy_instruct_dir), str(tiny_lm_dir)
    one = _launch(1, "mllm", data, lm, out=tmp_path / "one")
    two = _launch(2, "mllm", data, lm, out=tmp_path / "two")
    assert one["steps"] == two["steps"] and len(one["history"]) == len(two["history"])
    assert two["history"][0] == pytest.approx(one["history"][0], rel=0.05)  # same weights
