"""`opendfa analyze ...`: argument parsing and printing only, the work is in `pipeline`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from opendfa.cli_options import (
    add_detector_option,
    add_device_option,
    add_forensic_stream_option,
    output_per_input,
)
from opendfa.console import cli_error, print_stderr
from opendfa.exits import EXIT_INPUT, EXIT_OK


def add_analyze_commands(commands: argparse._SubParsersAction) -> None:
    analyze = commands.add_parser(
        "analyze", help="judge images and videos: real or fake, which forgery type, where"
    )
    analyze.add_argument("paths", nargs="+", metavar="PATH", help="image, video or folder")
    analyze.add_argument(
        "--json", action="store_true", help="print one opendfa.report/2 object per input (JSONL)"
    )
    analyze.add_argument(
        "--report", metavar="OUT.html", help="write an HTML report; a folder for several inputs"
    )
    add_detector_option(analyze)
    add_device_option(analyze, "where the detector runs: cpu, cuda, cuda:1, ...")
    analyze.add_argument(
        "--out",
        metavar="RESULTS.jsonl",
        help="batch mode: one report per input in this file; a rerun skips inputs already there",
    )
    analyze.add_argument(
        "--no-resume", action="store_true", help="with --out: start the file afresh"
    )
    analyze.add_argument(
        "--frames", type=_positive_int, default=16, help="frames sampled uniformly from a video"
    )
    analyze.add_argument(
        "--fps", type=_positive_float, default=None, help="sample videos at this rate instead"
    )
    analyze.add_argument(
        "--threshold",
        type=_probability,
        default=None,
        help="fake probability at which a face is judged fake (default: the detector's "
        "operating point, chosen on validation reals; 0.5 for a detector without one)",
    )
    analyze.add_argument(
        "--max-pixels", type=_positive_float, default=50.0, metavar="MP", help="image size cap"
    )
    add_forensic_stream_option(analyze)
    analyze.add_argument(
        "--copy-move",
        action="store_true",
        help="also look for regions copied within the image (clone check, images only; "
        "adds about 0.1-0.3 s per megapixel)",
    )
    analyze.add_argument(
        "--max-seconds",
        type=_positive_float,
        default=None,
        metavar="S",
        help="stop an input's analysis after this many seconds (default: no limit)",
    )
    analyze.add_argument(
        "--max-decoded-frames",
        type=_positive_int,
        default=None,
        metavar="N",
        help="decode at most N frames of a video (default: about 11 minutes at 30 fps); "
        "a longer video is analysed up to there, with a warning",
    )
    analyze.add_argument(
        "--ray",
        action="store_true",
        help="with --out: run the batch on Ray Data (local or a cluster)",
    )
    analyze.add_argument("--ray-actors", type=_positive_int, default=2, help="analyser actors")
    analyze.add_argument(
        "--ray-address", default=None, help="existing Ray cluster (auto, ray://...); default local"
    )
    analyze.add_argument(
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,  # so `opendfa --verbose analyze` is not reset
        help="also show FFmpeg's and MediaPipe's own log lines",
    )
    analyze.set_defaults(handler=_analyze)


def _analyze(args: argparse.Namespace) -> int:
    from opendfa.evidence.batch import iter_inputs
    from opendfa.evidence.pipeline import Analyzer

    if args.ray and not args.out:
        cli_error("--ray needs --out RESULTS.jsonl")
        return EXIT_INPUT
    inputs = list(iter_inputs(args.paths))
    if not inputs:
        cli_error("no image or video files found", args.paths[0] if len(args.paths) == 1 else None)
        return EXIT_INPUT
    html_targets = output_per_input(args.report, inputs, ".html")
    try:
        analyzer = Analyzer(
            args.model,
            threshold=args.threshold,
            max_pixels=int(args.max_pixels * 1e6),
            device=args.device,
            max_seconds=args.max_seconds,
            max_decoded_frames=args.max_decoded_frames,
            forensic_stream=args.forensic_stream,
            copy_move=args.copy_move,
        )
    except Exception as err:  # whatever the loader raises, the user gets one line
        cli_error(f"cannot load the detector: {_short(err)}", _printable(args.model))
        return EXIT_INPUT
    failures = 0

    def emit(path: Path, report) -> None:
        nonlocal failures
        if report is None:
            return
        if report.verdict == "error":
            failures += 1
            cli_error(report.error, _printable(str(path)))
        _print(report, args.json)
        if html_targets and report.verdict != "error":
            from opendfa.evidence.html import write_html

            try:
                write_html(report, html_targets[path])
            except OSError as err:
                failures += 1
                cli_error(
                    f"cannot write report: {err.strerror or err}",
                    _printable(str(html_targets[path])),
                )

    with analyzer:
        if args.out and args.ray:
            summary = _ray_batch(inputs, args, emit)
            if summary is None:
                return EXIT_INPUT
        elif args.out:
            summary = analyzer.analyze_paths(
                inputs,
                args.out,
                resume=not args.no_resume,
                num_frames=args.frames,
                fps=args.fps,
                on_report=emit,
            )
        if args.out:
            line = (
                f"{summary.analyzed} analysed, {summary.skipped} already in {args.out}, "
                f"{summary.errors} error(s)"
            )
            if args.json:  # stdout holds the reports
                print_stderr(line)
            else:
                print(line, flush=True)
        else:
            for path in inputs:
                emit(path, _analyze_one(analyzer, path, args))
    if failures and len(inputs) > 1:
        cli_error(f"{failures} of {len(inputs)} inputs failed")
    return EXIT_INPUT if failures else EXIT_OK


def _ray_batch(inputs: list[Path], args: argparse.Namespace, emit):
    try:
        from opendfa.evidence.ray_batch import analyze_with_ray
    except ImportError:
        cli_error("--ray needs Ray Data: pip install 'ray[data]'")
        return None
    return analyze_with_ray(
        inputs,
        args.out,
        model=args.model,
        resume=not args.no_resume,
        num_frames=args.frames,
        fps=args.fps,
        threshold=args.threshold,
        max_seconds=args.max_seconds,
        max_decoded_frames=args.max_decoded_frames,
        actors=args.ray_actors,
        address=args.ray_address,
        on_report=emit,
    )


def _analyze_one(analyzer, path: Path, args: argparse.Namespace):
    from opendfa.evidence.batch import error_report
    from opendfa.media import MediaError

    try:
        return analyzer.analyze(path, num_frames=args.frames, fps=args.fps)
    except MediaError as err:
        return error_report(analyzer.model_info, path, err.reason)


def _print(report, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False), flush=True)
        return
    if report.verdict == "error":
        return  # already said on stderr
    path = _printable(report.input.path)
    if report.verdict == "no_face":
        print(f"{path}: no face found", flush=True)
        return
    label = report.forgery_type.label.replace("_", " ") if report.forgery_type else ""
    kind = "track" if report.input.kind == "video" else "face"
    count = len(report.faces)
    print(
        f"{path}: {report.verdict.upper()} {report.fake_probability:.2f}"
        + (f" ({label})" if report.verdict == "fake" else "")
        + f", {count} {kind}{'s' if count != 1 else ''}",
        flush=True,
    )
    print(f"  {report.explanation}", flush=True)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _printable(text: str) -> str:
    """File names may hold newlines or control characters: escape them for one-line output."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in str(text))


def _short(err: BaseException) -> str:
    return " ".join(str(err).split())[:200] or type(err).__name__
