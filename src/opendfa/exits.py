"""The exit codes of every `opendfa` command, defined once.

0 is success, 2 is anything wrong with the input (a missing file, a bad flag, a model that
cannot be loaded), 1 an internal error the command did not expect, 130 an interrupt (Ctrl-C),
as the shell reports a process ended by SIGINT.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130
