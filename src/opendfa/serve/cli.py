"""`opendfa serve`: run the API and web UI with uvicorn (bound to 127.0.0.1 by default)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_INPUT = 0, 2


def add_serve_command(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="REST API and web UI (upload, verdict, chat)")
    serve.add_argument("--host", default="127.0.0.1", help="interface (default: loopback only)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--data", default="opendfa-data", help="case store folder")
    serve.add_argument("--model", default="opendfa-lite0", help="detector name or folder")
    serve.add_argument("--device", default="cpu")
    serve.add_argument(
        "--api-key-env",
        default="OPENDFA_API_KEY",
        metavar="VAR",
        help="require this environment variable's value as API key when it is set",
    )
    serve.add_argument("--max-upload-mb", type=float, default=50.0)
    serve.add_argument("--max-pixels", type=float, default=50.0, metavar="MP")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from opendfa.serve.app import ServerConfig, create_app
    except ImportError as err:
        extra = "pip install 'opendfa[server]'"
        print(f"opendfa: error: the server needs its extra: {extra} ({err.name})", file=sys.stderr)
        return EXIT_INPUT
    config = ServerConfig(
        data_dir=Path(args.data),
        model=args.model,
        api_key=os.environ.get(args.api_key_env) or None,
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        max_pixels=int(args.max_pixels * 1e6),
        device=args.device,
    )
    try:
        app = create_app(config)
    except Exception as err:  # one line, whatever the model loader raises
        print(f"opendfa: error: cannot start: {' '.join(str(err).split())}", file=sys.stderr)
        return EXIT_INPUT
    if args.host not in ("127.0.0.1", "localhost", "::1") and not config.api_key:
        print(
            f"opendfa: warning: listening on {args.host} without an API key "
            f"(set {args.api_key_env})",
            file=sys.stderr,
        )
    print(f"OpenDFA on http://{args.host}:{args.port}/ (cases in {config.data_dir})", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return EXIT_OK
