"""Write one script's section of benchmarks/RESULTS.md between its markers, keep the rest."""

from __future__ import annotations

from pathlib import Path

DEFAULT_HEADER = "# OpenDFA benchmark results\n"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def write_section(path: Path, name: str, block: str, header: str = DEFAULT_HEADER) -> None:
    """Replace the text between `name`'s markers by `block` (markers added if missing)."""
    start, end = markers(name)
    block = block.strip("\n")
    if not block.startswith(start):
        block = f"{start}\n{block}\n{end}"
    text = path.read_text() if path.exists() else header
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text if text.endswith("\n") else text + "\n")
