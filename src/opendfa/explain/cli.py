"""`opendfa chat PATH`: analyse one image or video, then answer questions about it.

Lines starting with `/` are commands (see `/help`); anything else is a question. Reads stdin
until end of file or `/quit`, so it also works with piped questions (one per line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from opendfa.cli_options import (
    add_detector_option,
    add_endpoint_options,
    add_forensic_stream_option,
)
from opendfa.console import cli_error, print_stderr
from opendfa.exits import EXIT_OK

COMMANDS = """commands:
  /help             this list
  /save FILE.json   save the conversation (with the verdict and every answer's facts)
  /report FILE.html write the HTML report (image, heatmap, region table)
  /json FILE.json   write the analysis report (opendfa.report/1)
  /mask FILE.png    save the predicted manipulation mask of the decisive face
  /compare PATH     analyse another image or video and compare the two
  /quit             leave (end of input does the same)
anything else is a question, e.g. "why?", "where?", "how sure are you?", "what about the mouth?"
"""


def add_chat_command(commands: argparse._SubParsersAction) -> None:
    chat = commands.add_parser("chat", help="analyse an image or video and ask questions about it")
    chat.add_argument("path", metavar="PATH", help="image or video")
    add_detector_option(chat)
    add_forensic_stream_option(chat)
    chat.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "grounded", "openai", "dfa-gpt"),
        help="who answers: auto (default: DFA-GPT when the gemma extra and a model are here, "
        "else grounded), grounded (offline, from the report's numbers), openai (any compatible "
        "endpoint), dfa-gpt (the bundled DFA-GPT or --mllm DIR)",
    )
    chat.add_argument(
        "--mllm", metavar="DIR", help="DFA-GPT model folder (default: the bundled one, if any)"
    )
    chat.add_argument(
        "--int8",
        action="store_true",
        help="dfa-gpt: int8 weights (weight-only; same answers, but slower than float32 on "
        "CPUs without fast int8 kernels, see RESULTS.md)",
    )
    add_endpoint_options(chat, used_by="--backend openai")
    chat.add_argument("--frames", type=int, default=16, help="frames sampled from a video")
    chat.add_argument(
        "--ask",
        action="append",
        metavar="QUESTION",
        help="ask this and exit (repeatable); no prompt loop",
    )
    chat.set_defaults(handler=_chat)


def _chat(args: argparse.Namespace) -> int:
    from opendfa.evidence.pipeline import Analyzer
    from opendfa.explain import Conversation, ExplainError
    from opendfa.explain.backends import backend_from_cli
    from opendfa.explain.dfagpt_backend import auto_backend
    from opendfa.media import MediaError

    try:
        if args.backend == "auto":
            backend, answers = auto_backend(args.mllm, quantize=args.int8)
        else:
            backend = backend_from_cli(args.backend, args)
            describe = getattr(backend, "describe", None)
            answers = f"answers: {describe() if describe else backend.name}"
        streams = getattr(backend, "streams", False)
        if streams:
            backend.on_text = _stream
    except ExplainError as err:
        return cli_error(str(err))
    try:
        analyzer = Analyzer(args.model, forensic_stream=args.forensic_stream)
    except Exception as err:  # one line whatever the loader raises
        return cli_error(f"cannot load the detector: {err}")
    with analyzer:
        try:
            report = analyzer.analyze(Path(args.path), num_frames=args.frames)
        except MediaError as err:
            return cli_error(f"{err.reason} ({args.path})")
        conversation = Conversation(report, backend=backend)
        _say(
            f"{report.verdict.upper()}"
            + (
                f" P(fake) {report.fake_probability:.2f}"
                if report.fake_probability is not None
                else ""
            )
            + f" - {report.explanation}"
        )
        print_stderr(answers)  # once: who answers the questions
        questions = args.ask if args.ask else _lines()
        if not args.ask and _stdin_is_terminal():
            _say('ask a question ("why?", "where?", "how sure?") or /help')
        for line in questions:
            line = line.strip()
            if not line:
                continue
            if line.startswith("/"):
                if _command(line, conversation, analyzer, args) == "quit":
                    break
                continue
            try:
                reply = conversation.ask(line)
                if streams:
                    _stream("\n")  # the text was streamed as it came
                    _note_replacement(reply)
                else:
                    _say(reply.text)
            except ExplainError as err:
                cli_error(err)
    return EXIT_OK


def _lines():
    """Questions from stdin until its end; none when stdin is closed (`<&-`) or missing."""
    if sys.stdin is None or sys.stdin.closed:
        return
    interactive = _stdin_is_terminal()
    while True:
        try:
            line = input("you> ") if interactive else sys.stdin.readline()
        except (EOFError, OSError, ValueError):  # end, or a descriptor closed under us
            return
        if not interactive and not line:
            return
        yield line


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (OSError, ValueError):  # closed
        return False


# Commands that write a file: they never create folders (a typo would scatter files around).
_WRITERS = ("/save", "/report", "/json", "/mask")


def _command(line: str, conversation, analyzer, args: argparse.Namespace) -> str | None:
    import json

    from opendfa.media import MediaError

    name, _, argument = line.partition(" ")
    argument = argument.strip()
    report = conversation.report
    try:
        if name in ("/quit", "/exit", "/q"):
            return "quit"
        if name == "/help":
            _say(COMMANDS.rstrip())
        elif not argument and name in ("/save", "/report", "/json", "/mask", "/compare"):
            cli_error(f"{name} needs an argument (see /help)")
        elif name in _WRITERS and not Path(argument).parent.is_dir():
            cli_error(f"no such folder: {Path(argument).parent} (create it first)")
        elif name == "/save":
            _say(f"saved {conversation.save(argument)}")
        elif name == "/report":
            from opendfa.evidence.html import write_html

            _say(f"wrote {write_html(report, argument)}")
        elif name == "/json":
            Path(argument).write_text(json.dumps(report.to_json(), indent=1) + "\n")
            _say(f"wrote {argument}")
        elif name == "/mask":
            _save_mask(report, Path(argument))
        elif name == "/compare":
            other = analyzer.analyze(Path(argument), num_frames=args.frames)
            _say(conversation.compare(other).text)
        else:
            cli_error(f"unknown command {name} (see /help)")
    except MediaError as err:
        cli_error(f"{err.reason} ({argument})")
    except OSError as err:
        cli_error(f"cannot write {argument}: {err.strerror or err}")
    except Exception as err:  # a failed command must never end the conversation
        cli_error(f"{name} failed: {' '.join(str(err).split())[:200] or type(err).__name__}")
    return None


# What /mask can write: OpenCV picks its encoder from the suffix and raises on any other.
MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".webp")


def _save_mask(report, path: Path) -> None:
    import cv2
    import numpy as np

    if path.suffix.lower() not in MASK_SUFFIXES:
        cli_error(f"/mask writes images: give a name ending in {', '.join(MASK_SUFFIXES)}")
        return
    faces = [f for f in report.faces if f.mask is not None]
    if not faces:
        cli_error("this report has no mask")
        return
    face = max(faces, key=lambda f: f.fake_probability)
    canvas = np.zeros((report.input.height, report.input.width), np.uint8)
    x0, y0, _, _ = face.mask.box
    values = np.round(face.mask.to_array() * 255).astype(np.uint8)
    height, width = canvas.shape
    h, w = min(values.shape[0], height - y0), min(values.shape[1], width - x0)
    canvas[y0 : y0 + h, x0 : x0 + w] = values[:h, :w]
    if not cv2.imwrite(str(path), canvas):
        raise OSError(f"cannot write {path}")
    _say(f"wrote {path} (the mask at the image's size; white = likely manipulated)")


def _stream(text: str) -> None:
    print(text, end="", flush=True)


def _note_replacement(reply) -> None:
    """A streamed reply the report does not support was replaced: say why, then the answer."""
    if reply.facts.get("replaced"):
        rejected = reply.facts.get("rejected_dfa_gpt_reply", {})
        reason = rejected.get("reason", "is not supported by the report")
        _say(f"(not kept: that reply {reason}; from the report:)")
        _say(reply.text)


def _say(text: str) -> None:
    print(text, flush=True)
