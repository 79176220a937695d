"""Whole-process wall time of `opendfa --help` and of `opendfa analyze` on one image.

    .venv/bin/python benchmarks/startup.py [--repeat 5] [--before SRC] [--write RESULTS.md]

Each command runs `--repeat` times under `/usr/bin/time` (after one unmeasured run that
writes the bytecode caches, as an installed package has them); the table gives the median
wall, user and system seconds. `--before SRC` also times another checkout's `src/` folder
(e.g. a `git worktree` of an older commit) with the same interpreter, for a before/after
table. Analysis is of the bundled `astronaut.jpg` (one face) with the bundled detector.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from results_section import write_section

ROOT = Path(__file__).resolve().parent.parent
IMAGE = ROOT / "src" / "opendfa" / "assets" / "samples" / "astronaut.jpg"
COMMANDS = {
    "opendfa --help": ["--help"],
    "opendfa analyze astronaut.jpg --json": ["analyze", str(IMAGE), "--json"],
}


@dataclass
class Timing:
    wall: float
    user: float
    system: float


def time_once(src: Path, argv: list[str]) -> Timing:
    """One run of `python -m opendfa.cli ARGV` with `src` first on the path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(src)
    with tempfile.NamedTemporaryFile("r") as report:
        command = ["/usr/bin/time", "-o", report.name, "-f", "%e %U %S"]
        command += [sys.executable, "-m", "opendfa.cli", *argv]
        subprocess.run(command, env=env, check=True, capture_output=True)
        wall, user, system = map(float, Path(report.name).read_text().split()[-3:])
    return Timing(wall, user, system)


def median_timing(src: Path, argv: list[str], repeat: int) -> Timing:
    time_once(src, argv)  # bytecode caches, page cache
    runs = [time_once(src, argv) for _ in range(repeat)]
    return Timing(*(statistics.median(getattr(r, f) for r in runs) for f in Timing.__annotations__))


def section(rows: list[tuple[str, str, Timing]], repeat: int) -> str:
    lines = [
        "## Start-up (benchmarks/startup.py)",
        "",
        f"Run {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores (shared "
        f"with other jobs), Python {platform.python_version()}: whole process under "
        f"`/usr/bin/time`, median of {repeat} after one unmeasured run. Goals: `--help` "
        "≤ 0.5 s, one-image `analyze` ≤ 1.5 s.",
        "",
        "| command | code | wall s | user s | sys s |",
        "| --- | --- | --- | --- | --- |",
    ]
    for command, code, t in rows:
        lines.append(f"| `{command}` | {code} | {t.wall:.2f} | {t.user:.2f} | {t.system:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", type=Path, help="src/ folder of the code to compare with")
    parser.add_argument("--write", type=Path, help="update this RESULTS.md section")
    args = parser.parse_args()
    versions = [("before", args.before)] if args.before else []
    versions.append(("now", ROOT / "src"))
    rows = []
    for command, argv in COMMANDS.items():
        for label, src in versions:
            rows.append((command, label, median_timing(src, argv, args.repeat)))
            print(f"{command:28} {label:7} {rows[-1][2]}", flush=True)
    block = section(rows, args.repeat)
    print(block)
    if args.write:
        write_section(args.write, "startup", block)


if __name__ == "__main__":
    main()
