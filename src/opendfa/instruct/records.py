"""`InstructRecord`: one DFA-Instruct conversation, and the one reader of the files holding them.

On disk a record is a LLaVA-format JSON object (`id`, `image`, `task`, `conversations` of
`{"from": "human"|"gpt", "value": ...}` turns) plus OpenDFA's fields (`split`, `label`,
`category`, `identity`, and e.g. `ad_source`). `instruct build` writes `instruct.jsonl` (all
records, one per line) and `<split>.json` (a list per split); `read_records` reads either.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

_FIELDS = ("id", "image", "split", "label", "category", "identity", "task", "conversations")


@dataclass
class InstructRecord:
    id: str
    image: str
    task: str
    conversations: list[dict[str, str]]
    split: str | None = None
    label: str | None = None  # real | fake
    category: str | None = None
    identity: str | None = None
    extra: dict = field(default_factory=dict)  # any other field (ad_source, ...), kept as is

    @property
    def question(self) -> str:
        """The first human turn (with its `<image>` token)."""
        return self.conversations[0]["value"]

    @property
    def reference(self) -> str:
        """The first answer."""
        return self.conversations[1]["value"]

    @property
    def pairs(self) -> int:
        """Question-answer pairs in the conversation."""
        return len(self.conversations) // 2

    def to_json(self) -> dict:
        return {**{name: getattr(self, name) for name in _FIELDS}, **self.extra}

    @classmethod
    def from_json(cls, data: dict) -> InstructRecord:
        known = {k: data[k] for k in _FIELDS if k in data}
        extra = {k: v for k, v in data.items() if k not in _FIELDS}
        return cls(
            id=str(known.get("id", "")),
            image=known.get("image", ""),
            task=known.get("task", ""),
            conversations=[dict(t) for t in known.get("conversations", [])],
            split=known.get("split"),
            label=known.get("label"),
            category=known.get("category"),
            identity=known.get("identity"),
            extra=extra,
        )


def read_records(path: str | Path) -> Iterator[InstructRecord]:
    """The records of an `instruct.jsonl` (one per line) or a `<split>.json` (a list)."""
    path = Path(path)
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield InstructRecord.from_json(json.loads(line))
        return
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"unreadable {path}: {err}") from None
    for data in records:
        yield InstructRecord.from_json(data)


def write_records(path: str | Path, records: list[InstructRecord]) -> Path:
    """`instruct.jsonl` style for `.jsonl`, a LLaVA-style list for `.json`."""
    path = Path(path)
    if path.suffix == ".jsonl":
        text = "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records)
    else:
        text = json.dumps([r.to_json() for r in records], ensure_ascii=False, indent=0) + "\n"
    path.write_text(text, encoding="utf-8")
    return path
