"""`opendfa chat --backend dfa-gpt`: the model sees the analysed face, follow-ups carry the
conversation, tokens stream, and bad setups fail in one line."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

from opendfa.cli import main
from opendfa.explain import Conversation, ExplainError
from opendfa.explain.dfagpt_backend import DFAGPTBackend
from opendfa.models import dfagpt


@pytest.fixture(scope="module")
def model_dir(tiny_dfagpt_dir):
    """The session's random DFA-GPT folder (tests/conftest.py); nothing here writes into it."""
    return tiny_dfagpt_dir


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
        stripped = replace(report, preview=None, decisive_crop=None)
        Conversation(stripped, backend=backend).ask("why?")


def test_the_model_sees_the_analysed_crop_without_finding_the_face_again(
    model_dir, report, monkeypatch
):
    """No second face detector: the crop the analysis judged is the one DFA-GPT reads, and its
    visual features are computed once for all the questions about the report."""
    import opendfa.faces

    def no_face_detector(*args, **kwargs):
        raise AssertionError("a second face detector was started")

    backend = DFAGPTBackend(model_dir, max_new_tokens=2)
    crops, encoded = [], []
    ask, visual = backend.assistant.ask, backend.assistant.visual
    backend.assistant.ask = lambda crop, *a, **kw: crops.append(crop) or ask(crop, *a, **kw)
    backend.assistant.visual = lambda batch: encoded.append(len(batch)) or visual(batch)
    monkeypatch.setattr(opendfa.faces, "FaceDetector", no_face_detector)
    conversation = Conversation(report, backend=backend)
    conversation.ask("Is this face real or fake?")
    conversation.ask("Why?")
    assert all(crop is report.decisive_crop for crop in crops) and len(crops) == 2
    assert encoded == [1]


def test_a_report_read_back_without_its_crop_finds_the_same_face_again(model_dir, report):
    from dataclasses import replace

    backend = DFAGPTBackend(model_dir)
    found = backend._decisive_crop(replace(report, decisive_crop=None))
    np.testing.assert_array_equal(found, report.decisive_crop)


def test_chat_cli_streams_the_model_answers(
    model_dir, tiny_model, astronaut_path, capsys, monkeypatch
):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    args = ["chat", str(astronaut_path), "--model", tiny_model, "--backend", "dfa-gpt"]
    code = main([*args, "--mllm", str(model_dir), "--ask", "Is it fake?", "--ask", "Why?"])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err
    lines = out.strip().splitlines()
    assert lines[0].startswith(("REAL", "FAKE", "INCONCLUSIVE")) and len(lines) >= 3


# ------------------------------------------------------------------ the guard


def _scripted(backend, text):
    """The model "says" `text`, streamed word by word as `Assistant.ask` would."""

    def ask(crop, question, history=(), *, on_text=None, **options):
        for word in text.split(" "):
            if on_text:
                on_text(word + " ")
        return text

    backend.assistant.ask = ask


def _opposite(report):
    return "real" if report.verdict == "fake" else "fake"


def test_a_reply_with_the_other_verdict_is_replaced_by_the_grounded_answer(model_dir, report):
    from opendfa.explain import answer, classify

    pieces: list[str] = []
    backend = DFAGPTBackend(model_dir, on_text=pieces.append)
    said = f"{_opposite(report).capitalize()}. It is clearly {_opposite(report)}."
    _scripted(backend, said)
    conversation = Conversation(report, backend=backend)
    reply = conversation.ask("Is this face real or fake?")
    assert "".join(pieces).strip() == said  # what streamed ...
    assert (
        reply.text == answer(classify("Is this face real or fake?"), report).text
    )  # ... is not it
    assert reply.facts["replaced"] is True
    rejected = reply.facts["rejected_dfa_gpt_reply"]
    assert rejected == {
        "reason": f"says {_opposite(report)}, the report says {report.verdict}",
        "text": said,
    }
    assert reply.facts["disagrees_with_detector"] == {
        "dfa_gpt": _opposite(report),
        "detector": report.verdict,
    }
    assert conversation.history[-1].text == reply.text  # the next prompt sees the final text


def test_a_reply_naming_an_unsupported_region_is_replaced(model_dir, report):
    from opendfa.evidence.words import region_label
    from opendfa.explain.grounded import decisive_face

    regions = sorted(decisive_face(report).regions, key=lambda r: r.score)
    weak = next(r for r in regions if r.score < 0.5 and r.name != "skin")
    backend = DFAGPTBackend(model_dir)
    _scripted(backend, f"The {region_label(weak.name)} is blurrier than the rest of the face.")
    reply = Conversation(report, backend=backend).ask("Where are the traces?")
    assert reply.facts["replaced"] is True
    assert region_label(weak.name) in reply.facts["rejected_dfa_gpt_reply"]["reason"]
    assert "disagrees_with_detector" not in reply.facts


def test_a_description_is_held_open_only_under_a_fake_verdict(model_dir, report):
    import dataclasses

    from opendfa.explain.decoding import DESCRIPTION_MIN_TOKENS

    backend = DFAGPTBackend(model_dir)
    floors = []

    def ask(crop, question, history=(), *, min_new_tokens=0, **options):
        floors.append(min_new_tokens)
        return "No comment."

    backend.assistant.ask = ask
    for verdict in ("fake", "real"):
        judged = dataclasses.replace(report, verdict=verdict)
        Conversation(judged, backend=backend).ask("Describe the artifacts.")
        Conversation(judged, backend=backend).ask("Is this face real or fake?")
    assert floors == [DESCRIPTION_MIN_TOKENS, 0, 0, 0]


def test_chat_computes_in_bfloat16_where_the_cpu_has_it(model_dir, monkeypatch):
    monkeypatch.setattr(dfagpt, "_cpu_has_bf16", lambda: True)
    assert next(DFAGPTBackend(model_dir).assistant.loaded.model.lm.parameters()).dtype == (
        torch.bfloat16
    )
    monkeypatch.setattr(dfagpt, "_cpu_has_bf16", lambda: False)
    assert next(DFAGPTBackend(model_dir).assistant.loaded.model.lm.parameters()).dtype == (
        torch.float32
    )


def test_the_bench_answerer_is_the_chat_backend_in_float32(model_dir, monkeypatch):
    """DFA-Bench's `dfa-gpt` answerer is built through the chat registry; it computes in
    float32 (as the published tables were made) unless asked otherwise."""
    from opendfa.bench.answerers import make_answerer

    monkeypatch.setattr(dfagpt, "_cpu_has_bf16", lambda: True)
    answerer = make_answerer("dfa-gpt", model_dir=model_dir)
    assert isinstance(answerer.backend, DFAGPTBackend)
    assert answerer.assistant is answerer.backend.assistant
    assert next(answerer.loaded.model.lm.parameters()).dtype == torch.float32
    half = make_answerer("dfa-gpt", model_dir=model_dir, precision="bfloat16")
    assert next(half.loaded.model.lm.parameters()).dtype == torch.bfloat16


def test_a_grounded_reply_is_kept_as_it_was_said(model_dir, report):
    backend = DFAGPTBackend(model_dir)
    said = f"{report.verdict.capitalize()}."
    _scripted(backend, said)
    reply = Conversation(report, backend=backend).ask("Is this face real or fake?")
    assert reply.text == said and "replaced" not in reply.facts


def test_chat_cli_follows_a_replaced_stream_with_the_report_answer(
    model_dir, tiny_model, astronaut_path, capsys, monkeypatch
):
    from opendfa.explain.assistant import Assistant

    def ask(self, crop, question, history=(), *, on_text=None, **options):
        text = "This face looks like a face reenactment of the mouth and the nose."
        if on_text:
            on_text(text)
        return text

    monkeypatch.setattr(Assistant, "ask", ask)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    args = ["chat", str(astronaut_path), "--model", tiny_model, "--backend", "dfa-gpt"]
    code = main([*args, "--mllm", str(model_dir), "--ask", "What kind of forgery is it?"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[1] == "This face looks like a face reenactment of the mouth and the nose."
    assert lines[2].startswith("(not kept: that reply names face_reenactment, the report says ")
    assert len(lines) >= 4  # the grounded answer follows


# ------------------------------------------------------------------ who answers by default


@pytest.fixture
def bundled(model_dir, monkeypatch):
    monkeypatch.setattr(dfagpt, "bundled_model_dir", lambda: model_dir)
    return model_dir


def _chat_err(args, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code = main(["chat", *args, "--ask", "Is it fake?"])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err
    return out, err


def test_auto_answers_with_the_bundled_dfa_gpt(
    bundled, tiny_model, tiny_lm_dir, astronaut_path, capsys, monkeypatch
):
    _, err = _chat_err([str(astronaut_path), "--model", tiny_model], capsys, monkeypatch)
    line = f"answers: DFA-GPT (bundled adapter, {tiny_lm_dir.name}), checked against the detector"
    assert err.splitlines().count(line) == 1 and err.count("answers:") == 1


def test_auto_answers_grounded_with_a_hint_without_the_gemma_extra(
    bundled, tiny_model, astronaut_path, capsys, monkeypatch
):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        "opendfa.explain.dfagpt_backend.importlib.util.find_spec",
        lambda name, *a: None if name == "peft" else real(name, *a),
    )
    _, err = _chat_err([str(astronaut_path), "--model", tiny_model], capsys, monkeypatch)
    assert err.splitlines() == [
        'answers: grounded (offline). For DFA-GPT: pip install -e ".[gemma]"'
    ]


def test_auto_falls_back_to_grounded_when_dfa_gpt_does_not_load(
    tmp_path, tiny_lm_dir, tiny_model, astronaut_path, capsys, monkeypatch
):
    broken = tmp_path / "dfa-gpt"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"lm": str(tiny_lm_dir), "format": "nope"}))
    args = [str(astronaut_path), "--model", tiny_model, "--mllm", str(broken)]
    out, err = _chat_err(args, capsys, monkeypatch)
    assert len(err.splitlines()) == 1
    assert err.startswith("answers: grounded (DFA-GPT did not load: ")
    assert len(out.strip().splitlines()) >= 2  # the grounded answer came


def test_explicit_dfa_gpt_uses_the_bundled_folder(bundled, tiny_model, astronaut_path):
    from types import SimpleNamespace

    options = DFAGPTBackend.cli_options(SimpleNamespace(mllm=None, int8=False))
    assert options["model_dir"] == bundled


def test_the_prompt_reads_the_report_s_own_judgement(report):
    from opendfa.explain.dfagpt_backend import report_evidence
    from opendfa.explain.grounded import decisive_face

    line = report_evidence(report)
    assert f"verdict {report.verdict}," in line
    strong = [r.name for r in decisive_face(report).regions if r.score >= 0.5]
    assert ("regions above 0.5: none" in line) == (not strong)


def test_file_check_questions_are_answered_from_the_record_not_the_model(model_dir, report):
    # The model never saw the file checks (metadata, C2PA, JPEG, ELA): it is not asked.
    backend = DFAGPTBackend(model_dir)
    asked = []
    backend.assistant.ask = lambda *args, **options: asked.append(args) or "made up"
    reply = Conversation(report, backend=backend).ask("is there a content credential?")
    assert asked == []
    assert "provenance" in reply.text.lower() and "made up" not in reply.text


def test_the_second_line_words_the_report_s_own_cues_and_margin(report):
    from opendfa.evidence.words import region_label, strongest_cue_word
    from opendfa.explain.dfagpt_backend import report_evidence
    from opendfa.explain.grounded import decisive_face
    from opendfa.metrics.claims import confidence_band

    line = report_evidence(report, version=2)
    face = decisive_face(report)
    band = confidence_band(abs(face.fake_probability - report.model.threshold))
    assert f"margin {band};" in line
    for region in (r for r in face.regions if r.score >= 0.5):
        word = strongest_cue_word(region.cues)
        named = f"{region_label(region.name)} ({word})" if word else region_label(region.name)
        assert named in line, (named, line)


@pytest.mark.parametrize(
    ("question", "said", "kept"),
    [
        ("Is this face real or fake?", "None: the expression of a fake face.", False),
        ("Is this face real or fake?", "It looks real.", False),
        ("Is this face real or fake?", "Hm.", True),
        ("Describe the artifacts.", "Nothing stands out, as in an unaltered photograph.", False),
    ],
)
def test_a_reply_that_commits_under_an_abstaining_report_is_replaced(
    model_dir, report, question, said, kept
):
    """DFA-Instruct never abstains, so on an inconclusive report the model's replies are read
    as DFA-Bench reads a DF-D answer, and any committed verdict gives way to the record."""
    import dataclasses

    from opendfa.evidence.report import Abstention

    abstaining = dataclasses.replace(
        report,
        verdict="inconclusive",
        abstention=Abstention(["the score is close to the threshold"], "a second opinion"),
    )
    backend = DFAGPTBackend(model_dir)
    _scripted(backend, said)
    reply = Conversation(abstaining, backend=backend).ask(question)
    if kept:
        assert reply.text == said and "replaced" not in reply.facts
    else:
        assert reply.facts["replaced"] is True and "cannot tell" in reply.text
        assert "the report says inconclusive" in reply.facts["rejected_dfa_gpt_reply"]["reason"]
