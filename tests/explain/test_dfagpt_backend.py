"""`opendfa chat --backend dfa-gpt`: the model sees the analysed face, follow-ups carry the
conversation, tokens stream, and bad setups fail in one line."""

from __future__ import annotations

import io

import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

from opendfa.cli import main
from opendfa.explain import Conversation, ExplainError
from opendfa.explain.dfagpt_backend import DFAGPTBackend
from opendfa.models import dfagpt


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_lm_dir, tiny_model):
    config = dfagpt.DFAGPTConfig(
        lm=str(tiny_lm_dir), detector=tiny_model, lora={"r": 4, "alpha": 8, "dropout": 0.0}
    )
    torch.manual_seed(0)
    return dfagpt.save(dfagpt.build(config), tmp_path_factory.mktemp("dfa-gpt"))


@pytest.fixture(scope="module")
def report(tiny_model, astronaut_path):
    from opendfa.evidence.pipeline import Analyzer

    with Analyzer(tiny_model) as analyzer:
        return analyzer.analyze_image(astronaut_path)


def test_follow_ups_see_the_earlier_exchange_and_the_aligned_face(model_dir, report):
    pieces: list[str] = []
    backend = DFAGPTBackend(model_dir, on_text=pieces.append, max_new_tokens=6)
    seen = []
    ask = backend.assistant.ask

    def spy(crop, question, history=(), **options):
        seen.append((crop.shape, question, [(e.question, e.answer) for e in history]))
        return ask(crop, question, history, **options)

    backend.assistant.ask = spy
    conversation = Conversation(report, backend=backend)
    first = conversation.ask("Is this face real or fake?")
    second = conversation.ask("Why?")
    size = backend.assistant.loaded.image_size
    assert seen[0] == ((size, size, 3), "Is this face real or fake?", [])
    assert seen[1][2] == [("Is this face real or fake?", first.text)]
    assert "".join(pieces).replace(" ", "") == (first.text + second.text).replace(" ", "")
    assert [t.backend for t in conversation.history if t.role == "assistant"] == ["dfa-gpt"] * 2


def test_a_report_without_an_image_cannot_be_asked(model_dir, report):
    from dataclasses import replace

    backend = DFAGPTBackend(model_dir)
    with pytest.raises(ExplainError, match="needs the analysed image"):
        Conversation(replace(report, preview=None), backend=backend).ask("why?")


def test_chat_cli_streams_the_model_answers(
    model_dir, tiny_model, astronaut_path, capsys, monkeypatch
):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    args = ["chat", str(astronaut_path), "--model", tiny_model, "--backend", "dfa-gpt"]
    code = main([*args, "--mllm", str(model_dir), "--ask", "Is it fake?", "--ask", "Why?"])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err
    lines = out.strip().splitlines()
    assert lines[0].startswith(("REAL", "FAKE")) and len(lines) >= 3
