"""The `opendfa` command: a thin layer that parses arguments and calls the Python API.

Errors are one line on stderr (`opendfa: error: <what> (<path>)`) and exit code 2; with
several inputs the bad ones are reported and the rest still processed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from opendfa import __version__
from opendfa.cli_options import add_detector_option, output_per_input
from opendfa.console import cli_error
from opendfa.exits import EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK

SAMPLE_DIR = Path(__file__).resolve().parent / "assets" / "samples"


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _build_parser(_command_named(argv))
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "takes_importer_flags", False):
        args.importer_flags = extra  # read by the chosen importer's own parser
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "verbose", False):
        _show_native_logs()
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_OK
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        cli_error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as err:  # the last guard: one line, never a traceback
        if os.environ.get("OPENDFA_DEBUG"):
            raise
        cli_error(f"internal error: {type(err).__name__}: {err} (set OPENDFA_DEBUG=1 for details)")
        return EXIT_INTERNAL


def _build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `command` (one of `COMMANDS`), only that command is registered.

    Registering every command imports every command's options (training configs among
    them): about 40 ms, a few per cent of a one-image `opendfa analyze`. `--help`, a typo
    and no command at all get the full parser, so they list every command."""
    parser = argparse.ArgumentParser(prog="opendfa", description="Interactive deepfake analysis.")
    parser.add_argument("--version", action="version", version=f"opendfa {__version__}")
    _add_verbose_option(parser, default=False)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS if command is None else (command,):
        _ADDERS[name](commands)
    return parser


def _add_faces_command(commands) -> None:
    faces = commands.add_parser(
        "faces", help="find faces, landmarks and regions in images and videos"
    )
    faces.add_argument("paths", nargs="+", metavar="PATH", help="image, video or folder")
    faces.add_argument(
        "--json", action="store_true", help="print one JSON object per input (JSON Lines)"
    )
    faces.add_argument(
        "--overlay", metavar="OUT.png", help="draw faces; a folder when there are several inputs"
    )
    _add_media_options(faces)
    _add_verbose_option(faces)
    faces.set_defaults(handler=_cmd_faces)


def _add_data_command(commands) -> None:
    from opendfa.data.cli import add_data_commands

    add_data_commands(commands)


def _add_analyze_command(commands) -> None:
    from opendfa.evidence.cli import add_analyze_commands

    add_analyze_commands(commands)


def _add_chat_command(commands) -> None:
    from opendfa.explain.cli import add_chat_command

    add_chat_command(commands)


def _add_serve_command(commands) -> None:
    from opendfa.serve.cli import add_serve_command

    add_serve_command(commands)


def _add_instruct_command(commands) -> None:
    from opendfa.instruct.cli import add_instruct_commands

    add_instruct_commands(commands)


def _add_bench_command(commands) -> None:
    from opendfa.bench.cli import add_bench_command

    add_bench_command(commands)


def _add_train_command(commands) -> None:
    from opendfa.train.cli import add_train_commands
    from opendfa.train.generator_cli import add_generator_command
    from opendfa.train.mllm_cli import add_mllm_command

    train_commands = add_train_commands(commands)
    add_generator_command(train_commands)
    add_mllm_command(train_commands)


def _add_demo_command(commands) -> None:
    demo = commands.add_parser(
        "demo", help="analyse the bundled samples (a real photo and a face swap)"
    )
    demo.add_argument("--out", default="opendfa-demo", help="output folder (default: opendfa-demo)")
    add_detector_option(demo)
    demo.set_defaults(handler=_cmd_demo)


# Every command, in the order `--help` lists them.
_ADDERS = {
    "faces": _add_faces_command,
    "data": _add_data_command,
    "analyze": _add_analyze_command,
    "chat": _add_chat_command,
    "serve": _add_serve_command,
    "instruct": _add_instruct_command,
    "bench": _add_bench_command,
    "train": _add_train_command,
    "demo": _add_demo_command,
}
COMMANDS = tuple(_ADDERS)


def _command_named(argv: Sequence[str]) -> str | None:
    """The command `argv` runs, if it names one before any option but `--verbose`."""
    for word in argv:
        if word == "--verbose":
            continue
        return word if word in _ADDERS else None
    return None


def _add_verbose_option(parser: argparse.ArgumentParser, default: object = argparse.SUPPRESS):
    """`--verbose` before or after the command (a subcommand's must not reset the main one)."""
    parser.add_argument(
        "--verbose",
        action="store_true",
        default=default,
        help="also show FFmpeg's and MediaPipe's own log lines",
    )


def _show_native_logs() -> None:
    """Let FFmpeg, OpenCV and MediaPipe print their own lines on stderr (read before use)."""
    os.environ["OPENDFA_VERBOSE_NATIVE"] = "1"


def _add_media_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-pixels", type=float, default=50.0, metavar="MP", help="image size cap in megapixels"
    )
    parser.add_argument(
        "--frames", type=int, default=16, help="frames sampled uniformly from a video"
    )
    parser.add_argument(
        "--fps", type=float, default=None, help="sample videos at this rate instead"
    )


def _cmd_faces(args: argparse.Namespace) -> int:
    from opendfa.faces import FaceDetector
    from opendfa.media import iter_media_files

    inputs = list(iter_media_files(args.paths))
    if not inputs:
        cli_error("no image or video files found", args.paths[0] if len(args.paths) == 1 else None)
        return EXIT_INPUT
    overlay_paths = output_per_input(args.overlay, inputs, ".png")
    failures = 0
    with FaceDetector() as detector:
        for path in inputs:
            result = _faces_for_input(path, detector, args)
            if "error" in result:
                failures += 1
                cli_error(result["error"], str(path))
            elif overlay_paths:
                _write_overlay(result.pop("_overlay"), overlay_paths[path])
            result.pop("_overlay", None)
            _emit(result, args.json)
    if failures and len(inputs) > 1:
        cli_error(f"{failures} of {len(inputs)} inputs failed")
    return EXIT_INPUT if failures else EXIT_OK


def _faces_for_input(path: Path, detector, args: argparse.Namespace) -> dict:
    from opendfa.faces.overlay import draw_faces
    from opendfa.faces.scan import scan_image, scan_video
    from opendfa.media import MediaError, media_kind

    max_pixels = int(args.max_pixels * 1e6)
    try:
        if media_kind(str(path)) == "video":
            video = scan_video(
                path, detector, num_frames=args.frames, target_fps=args.fps, max_pixels=max_pixels
            )
            result = video.to_json()
            best = next((f for f in video.frames if f.index == video.best_frame_index), None)
            if video.best_frame is not None and best is not None:
                result["_overlay"] = draw_faces(video.best_frame, best.faces)
            return result
        scan = scan_image(path, detector, max_pixels=max_pixels)
        result = scan.to_json()
        result["_overlay"] = draw_faces(scan.image.rgb, scan.faces, scan.regions)
        return result
    except MediaError as err:
        return {"input": {"path": str(path)}, "error": err.reason}


def _cmd_demo(args: argparse.Namespace) -> int:
    from opendfa.demo import run_demo
    from opendfa.models.detector_base import DetectorNotFoundError

    try:
        result = run_demo(args.out, model=args.model)
    except (DetectorNotFoundError, ValueError) as err:
        cli_error(f"cannot load the detector: {err}")
        return EXIT_INPUT
    print(f"wrote {result.jsonl} and {len(result.html)} HTML reports in {args.out}")
    return EXIT_OK


def _write_overlay(rgb, path: Path) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        cli_error("cannot write overlay", str(path))


def _emit(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result), flush=True)
        return
    info = result["input"]
    if "error" in result:
        return  # already reported on stderr
    if info.get("kind") == "video":
        counts = [len(frame["faces"]) for frame in result["frames"]]
        size = f"{info['width']}x{info['height']}"
        print(
            f"{info['path']}: video {size}, {len(counts)} frames sampled, "
            f"{len(result['tracks'])} face track(s), up to {max(counts, default=0)} per frame",
            flush=True,
        )
        return
    faces = result["faces"]
    print(f"{info['path']}: {len(faces)} face(s) in {info['width']}x{info['height']}", flush=True)
    for number, face in enumerate(faces):
        box = ", ".join(f"{v:.0f}" for v in face["box"])
        areas = face["region_areas"]
        print(
            f"  #{number} box [{box}] score {face['detection_score']:.2f}"
            f"{' rotated ' + str(face['rotation']) if face['rotation'] else ''}"
            f"  skin {areas['skin']} px, eyes {areas['left_eye']}+{areas['right_eye']} px,"
            f" mouth {areas['mouth']} px",
            flush=True,
        )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
