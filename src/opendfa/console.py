"""The one way a command reports an error: one line `opendfa: error: <what> (<path>)` on
stderr, no traceback, exit code 2 (docs/features.md, "Bad inputs")."""

from __future__ import annotations

import sys
import threading

from opendfa.exits import EXIT_INPUT

# Held while native start-up noise is silenced by pointing file descriptor 2 at /dev/null
# (`faces.detect`, possibly on a background thread): an error line waits for the redirect to
# end instead of vanishing into it.
STDERR_LOCK = threading.RLock()


def cli_error(message: object, path: object | None = None) -> int:
    """Print the error line (whitespace collapsed, so it stays one line) and return
    `EXIT_INPUT` for the command to return."""
    text = " ".join(str(message or "unknown error").split())
    shown = f" ({path})" if path else ""
    with STDERR_LOCK:
        print(f"opendfa: error: {text}{shown}", file=sys.stderr, flush=True)
    return EXIT_INPUT


def print_stderr(text: str) -> None:
    """A line on stderr, after any native-log silence has ended (see `STDERR_LOCK`)."""
    with STDERR_LOCK:
        print(text, file=sys.stderr, flush=True)
