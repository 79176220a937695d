"""`opendfa serve`: run the API and web UI with uvicorn (bound to 127.0.0.1 by default)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from opendfa.cli_options import (
    add_detector_option,
    add_device_option,
    add_forensic_stream_option,
)
from opendfa.console import cli_error, print_stderr
from opendfa.exits import EXIT_OK


def add_serve_command(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="REST API and web UI (upload, verdict, chat)")
    serve.add_argument("--host", default="127.0.0.1", help="interface (default: loopback only)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--data", default="opendfa-data", help="case store folder")
    add_detector_option(serve)
    add_device_option(serve, "where the detector runs: cpu, cuda, cuda:1, ...")
    serve.add_argument(
        "--api-key-env",
        default="OPENDFA_API_KEY",
        metavar="VAR",
        help="require this environment variable's value as API key when it is set",
    )
    serve.add_argument("--max-upload-mb", type=float, default=50.0)
    serve.add_argument(
        "--copy-move",
        action="store_true",
        help="also look for regions copied within each uploaded image (clone check)",
    )
    add_forensic_stream_option(serve)
    serve.add_argument("--max-pixels", type=float, default=50.0, metavar="MP")
    serve.add_argument(
        "--decode-budget",
        type=float,
        default=48.0,
        metavar="M",
        help="millions of pixels x channels an upload may decode to (default 48: 16 MP RGB)",
    )
    serve.add_argument(
        "--queue",
        type=int,
        default=16,
        help="analyses, renders and uploads being received admitted at once (503 past it)",
    )
    serve.add_argument(
        "--analysis-seconds",
        type=float,
        default=60.0,
        metavar="S",
        help="time one analysis may take on the worker (default 60; 0: no limit)",
    )
    serve.add_argument(
        "--max-decoded-frames",
        type=int,
        metavar="N",
        help="frames one video may decode; the rest is not analysed (default 20000)",
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="a request body that sends nothing for S seconds is dropped (default 30; 0: never)",
    )
    serve.add_argument(
        "--upload-seconds",
        type=float,
        default=300.0,
        metavar="S",
        help="time one upload's body may take in all (default 300)",
    )
    serve.add_argument(
        "--max-temp-mb",
        type=float,
        default=512.0,
        metavar="MB",
        help="space all uploads being received may take under DATA/tmp (default 512; 503 past it)",
    )
    serve.add_argument(
        "--max-store-gb",
        type=float,
        metavar="GB",
        help="quota of the case store (database and previews); a new case past it gets 507",
    )
    serve.add_argument(
        "--keep-days",
        type=float,
        metavar="DAYS",
        help="delete cases older than this, oldest first (default: keep them)",
    )
    serve.add_argument(
        "--allow-host",
        action="append",
        metavar="NAME",
        help="Host header to accept (repeatable, '*' for any; env OPENDFA_ALLOWED_HOSTS, "
        "comma-separated); default: loopback names and --host, or any host with an API key",
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="origin allowed to call the API from a browser (repeatable; env "
        "OPENDFA_CORS_ORIGINS); default: none, no CORS",
    )
    serve.add_argument(
        "--backend",
        choices=("grounded", "dfa-gpt"),
        default="grounded",
        help="who answers chat questions: grounded (the report's numbers, offline) or dfa-gpt "
        "(a DFA-GPT model folder, --mllm; needs the gemma extra)",
    )
    serve.add_argument(
        "--mllm",
        metavar="DIR",
        help="DFA-GPT model folder for --backend dfa-gpt (default: the bundled one, if any)",
    )
    serve.add_argument(
        "--int8",
        action="store_true",
        help="dfa-gpt: int8 weights (weight-only; same answers, but slower than float32 on "
        "CPUs without fast int8 kernels, see RESULTS.md)",
    )
    serve.add_argument(
        "--max-new-tokens",
        type=int,
        default=160,
        metavar="N",
        help="dfa-gpt: tokens one answer may generate (default 160, at most 512)",
    )
    serve.set_defaults(handler=_serve)


def _listed(values: list[str] | None, env: str) -> tuple[str, ...]:
    """Repeated options, else a comma-separated environment variable."""
    items = values or os.environ.get(env, "").split(",")
    return tuple(item.strip() for item in items if item.strip())


def _allowed_hosts(args: argparse.Namespace, api_key: str | None) -> tuple[str, ...] | None:
    """None leaves the default to the server (loopback names without a key, any with one);
    a non-wildcard --host is accepted as well."""
    from opendfa.serve.guard import LOOPBACK_HOSTS

    hosts = _listed(args.allow_host, "OPENDFA_ALLOWED_HOSTS")
    if hosts:
        return hosts
    if api_key or args.host in ("0.0.0.0", "::", "") or args.host in LOOPBACK_HOSTS:
        return None
    return (*LOOPBACK_HOSTS, args.host)


def _mllm_dir(args: argparse.Namespace) -> Path | None:
    """--mllm, else the DFA-GPT folder shipped in the package (None without one)."""
    if args.mllm:
        return Path(args.mllm)
    if args.backend != "dfa-gpt":
        return None
    from opendfa.models.dfagpt import bundled_model_dir

    return bundled_model_dir()


def _limits(args: argparse.Namespace) -> dict:
    """The work, upload and store limits as `ServerConfig` fields (0 seconds: no limit)."""
    limits = {
        "analysis_seconds": args.analysis_seconds or None,
        "body_timeout": args.body_timeout or None,
        "upload_seconds": args.upload_seconds,
        "max_temp_bytes": int(args.max_temp_mb * 1024 * 1024),
        "max_store_bytes": None if args.max_store_gb is None else int(args.max_store_gb * 1e9),
        "keep_days": args.keep_days,
    }
    if args.max_decoded_frames is not None:
        limits["max_decoded_frames"] = max(1, args.max_decoded_frames)
    return limits


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from opendfa.serve.app import ServerConfig, create_app
    except ImportError as err:
        extra = "pip install 'opendfa[server]'"
        return cli_error(f"the server needs its extra: {extra}", err.name)
    api_key = os.environ.get(args.api_key_env) or None
    config = ServerConfig(
        data_dir=Path(args.data),
        model=args.model,
        api_key=api_key,
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        max_pixels=int(args.max_pixels * 1e6),
        decode_budget=int(args.decode_budget * 1e6),
        queue_size=max(1, args.queue),
        device=args.device,
        copy_move=args.copy_move,
        forensic_stream=args.forensic_stream,
        allowed_hosts=_allowed_hosts(args, api_key),
        cors_origins=_listed(args.cors_origin, "OPENDFA_CORS_ORIGINS"),
        backend=args.backend,
        mllm=_mllm_dir(args),
        int8=args.int8,
        max_new_tokens=args.max_new_tokens,
        **_limits(args),
    )
    try:
        app = create_app(config)
    except Exception as err:  # one line, whatever the model loader raises
        return cli_error(f"cannot start: {err}")
    if args.host not in ("127.0.0.1", "localhost", "::1") and not config.api_key:
        print_stderr(
            f"opendfa: warning: listening on {args.host} without an API key "
            f"(set {args.api_key_env})"
        )
    print(
        f"OpenDFA on http://{args.host}:{args.port}/ (cases in {config.data_dir}, "
        f"chat: {config.backend})",
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return EXIT_OK
