"""`opendfa chat`: analysis summary, questions from stdin, commands, clean errors."""

from __future__ import annotations

import io
import json

import cv2
import pytest

from opendfa.cli import main


def _chat(args, stdin_text, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin_text))
    code = main(["chat", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_questions_and_commands_from_stdin(
    tiny_model, astronaut_path, hopper_path, tmp_path, monkeypatch, capsys
):
    mask, convo, page = tmp_path / "m.png", tmp_path / "c.json", tmp_path / "r.html"
    script = "\n".join(
        [
            "how sure are you?",
            "what about the mouth?",
            f"/mask {mask}",
            f"/report {page}",
            f"/compare {hopper_path}",
            "/nonsense",
            f"/save {convo}",
            "/quit",
            "never asked",
        ]
    )
    code, out, err = _chat(
        [str(astronaut_path), "--model", tiny_model], script, monkeypatch, capsys
    )
    assert code == 0
    first = out.splitlines()[0]
    # An untrained detector scores near 0.5: inside the margin band, so usually inconclusive.
    assert first.startswith(("FAKE P(fake)", "REAL P(fake)", "INCONCLUSIVE P(fake)"))
    assert "against a threshold of 0.50" in out and "The mouth scores" in out
    assert cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE).shape == (512, 512)
    assert "<html" in page.read_text().lower()
    assert "looks more manipulated" in out
    assert "unknown command /nonsense" in err
    saved = json.loads(convo.read_text())
    asked = [t["text"] for t in saved["turns"] if t["role"] == "user"]
    assert asked[:2] == ["how sure are you?", "what about the mouth?"]
    assert "never asked" not in out and "never asked" not in asked


def test_ask_option_answers_and_exits(tiny_model, astronaut_path, monkeypatch, capsys):
    code, out, _ = _chat(
        [str(astronaut_path), "--model", tiny_model, "--ask", "which model is this?"],
        "",
        monkeypatch,
        capsys,
    )
    assert code == 0 and "Detector tiny@1" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jpg"], "missing.jpg"),
        (["{photo}", "--backend", "dfa-gpt"], "no DFA-GPT model given"),
        (["{photo}", "--backend", "dfa-gpt", "--mllm", "/nonexistent"], "cannot load DFA-GPT"),
        (["{photo}", "--model", "/nonexistent"], "cannot load the detector"),
    ],
)
def test_errors_are_one_line(args, message, astronaut_path, tiny_model, monkeypatch, capsys):
    args = [a.replace("{photo}", str(astronaut_path)) for a in args]
    if "--model" not in args:
        args += ["--model", tiny_model]
    code, _, err = _chat(args, "", monkeypatch, capsys)
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("stdin", [None, "closed"], ids=["no-stdin", "closed-stdin"])
def test_closed_stdin_ends_the_chat_cleanly(stdin, tiny_model, astronaut_path, monkeypatch, capsys):
    if stdin == "closed":
        stdin = io.StringIO()
        stdin.close()
    monkeypatch.setattr("sys.stdin", stdin)  # `opendfa chat x.jpg <&-` leaves sys.stdin None
    code = main(["chat", str(astronaut_path), "--model", tiny_model])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.err.startswith("answers: grounded (offline")  # which backend, one line
    assert len(captured.err.splitlines()) == 1
    assert captured.out.splitlines()[0].startswith(("REAL", "FAKE", "INCONCLUSIVE"))


def test_report_to_a_missing_folder_is_an_error_and_creates_nothing(
    tiny_model, astronaut_path, tmp_path, monkeypatch, capsys
):
    target = tmp_path / "no" / "such" / "report.html"
    script = f"/report {target}\n/json {tmp_path / 'absent' / 'r.json'}\n"
    code, out, err = _chat(
        [str(astronaut_path), "--model", tiny_model], script, monkeypatch, capsys
    )
    assert code == 0
    assert err.splitlines()[1:] == [
        f"opendfa: error: no such folder: {tmp_path / 'no' / 'such'} (create it first)",
        f"opendfa: error: no such folder: {tmp_path / 'absent'} (create it first)",
    ]
    assert not (tmp_path / "no").exists() and "wrote" not in out


@pytest.mark.parametrize("target", ["m.txt", "m"])
def test_mask_to_a_name_no_image_writer_knows_keeps_the_conversation(
    target, tiny_model, astronaut_path, tmp_path, monkeypatch, capsys
):
    # Issue 22, F7: "/mask out.txt" ended the session with "internal error ... could not find
    # a writer" and the next question was never answered.
    script = f"/mask {tmp_path / target}\nhow sure are you?\n"
    code, out, err = _chat(
        [str(astronaut_path), "--model", tiny_model, "--backend", "grounded"],
        script,
        monkeypatch,
        capsys,
    )
    assert code == 0
    assert "internal error" not in err
    [line] = [line for line in err.splitlines() if "/mask" in line]
    assert "/mask writes images: give a name ending in .png" in line
    assert not (tmp_path / target).exists()
    assert "P(fake)" in out.split("\n", 1)[1]  # the question after it was answered
