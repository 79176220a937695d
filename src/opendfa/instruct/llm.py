"""LLM-assisted artifact descriptions: the DFA paper's two GPT prompt types, checked.

Prompt type 1 shows the fake alone and asks for the artifacts of specific face regions;
prompt type 2 shows the fake beside its source real and asks for the differences. Both carry
the facts the offline builder knows (category, method operations, covered regions, measured
cues) so the model describes what is there. A reply is accepted only if it agrees with the
ground truth: it must not call the face real, must not name another forgery category, and
must not name a face region the mask does not cover; otherwise it is asked again (up to
`attempts`) and finally dropped, and the grounded description is used instead.

Any OpenAI-compatible chat endpoint with images works (OpenAI, vLLM, llama.cpp, Ollama).
Replies are cached on disk by a hash of the model, prompt and image bytes, requests are
spaced to `requests_per_minute`, failures retried with backoff (`opendfa.explain.http`), and
tokens and cost are tallied.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from opendfa.evidence.words import category_label, region_label
from opendfa.explain.http import ChatClient, EndpointError
from opendfa.explain.intents import find_regions
from opendfa.instruct.describe import (
    Measurements,
    covered_regions,
    measurement_facts,
)
from opendfa.metrics.answers import UNPARSEABLE, parse_category, parse_detection
from opendfa.metrics.claims import ClaimFacts, check_claims
from opendfa.safe_files import write_text_atomic

TYPE1 = (
    "You are annotating a forensic dataset. The face image is a {kind}. Facts measured on it: "
    "{facts} Describe, in 3 to 5 sentences, the visible artifacts in these face regions only: "
    "{regions}. Say where each artifact is and what it looks like (blur, colour, texture, "
    "edges, lighting). Do not mention any other face region and do not say the face is real."
)
TYPE2 = (
    "You are annotating a forensic dataset. The first image is a {kind}; the second is the real "
    "photo it was made from. Facts measured on the fake: {facts} By comparing the two, "
    "describe in 3 to 5 sentences the artifacts of the fake in these regions only: {regions}. "
    "Do not mention any other face region and do not say the fake is real."
)


@dataclass
class LLMConfig:
    base_url: str
    model: str = "gpt-4o"
    api_key: str | None = None
    cache_dir: Path | None = None
    requests_per_minute: float = 60.0
    retries: int = 3
    attempts: int = 2  # generations per description before falling back to the grounded text
    timeout: float = 120.0
    usd_per_1k_prompt: float = 0.0
    usd_per_1k_completion: float = 0.0


@dataclass
class LLMTally:
    requests: int = 0
    cache_hits: int = 0
    accepted: int = 0
    rejected: int = 0
    dropped: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)


class LLMDescriber:
    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self.client = ChatClient(
            config.base_url, config.model, config.api_key, config.timeout, config.retries
        )
        self.tally = LLMTally()
        self._lock = threading.Lock()
        self._last = 0.0
        if config.cache_dir:
            Path(config.cache_dir).mkdir(parents=True, exist_ok=True)

    def describe(
        self,
        fake_image: Path,
        m: Measurements,
        *,
        technique_is_sbi: bool = False,
        real_image: Path | None = None,
    ) -> str | None:
        """An accepted LLM description, or None (the caller keeps the grounded one)."""
        allowed = covered_regions(m)
        prompt = (TYPE2 if real_image else TYPE1).format(
            kind=category_label(m.category) + (" (self-blended)" if technique_is_sbi else ""),
            facts=_facts(m),
            regions=", ".join(region_label(r) for r in allowed) or "the face as a whole",
        )
        images = [fake_image] + ([real_image] if real_image else [])
        for attempt in range(self.config.attempts):
            try:
                text = self._ask(prompt, images, attempt)
            except EndpointError:
                self.tally.failed += 1
                return None
            facts = measurement_facts(m, original=real_image is not None)
            reason = check_description(text, m.category, allowed, facts)
            if reason is None:
                self.tally.accepted += 1
                return text.strip()
            self.tally.rejected += 1
            self.tally.reasons[reason] = self.tally.reasons.get(reason, 0) + 1
        self.tally.dropped += 1
        return None

    def _ask(self, prompt: str, images: list[Path], attempt: int) -> str:
        datas = [Path(p).read_bytes() for p in images]
        key = hashlib.sha256(
            json.dumps([self.config.model, prompt, attempt]).encode()
            + b"".join(hashlib.sha256(d).digest() for d in datas)
        ).hexdigest()
        cached = Path(self.config.cache_dir) / f"{key}.json" if self.config.cache_dir else None
        if cached is not None and cached.exists():
            self.tally.cache_hits += 1
            return json.loads(cached.read_text())["text"]
        content = [
            {"type": "image_url", "image_url": {"url": _data_url(p, d)}}
            for p, d in zip(images, datas, strict=True)
        ]
        content.append({"type": "text", "text": prompt})
        self._wait_turn()
        reply = self.client.complete(
            [{"role": "user", "content": content}], temperature=0.7 if attempt else 0.2
        )
        self.tally.requests += 1
        self.tally.prompt_tokens += reply.prompt_tokens
        self.tally.completion_tokens += reply.completion_tokens
        self.tally.usd += (
            reply.prompt_tokens * self.config.usd_per_1k_prompt
            + reply.completion_tokens * self.config.usd_per_1k_completion
        ) / 1000
        if cached is not None:
            write_text_atomic(cached, json.dumps({"text": reply.text, "usage": reply.usage}) + "\n")
        return reply.text

    def _wait_turn(self) -> None:
        """Space requests to at most `requests_per_minute` (shared across threads)."""
        interval = 60.0 / self.config.requests_per_minute
        with self._lock:
            delay = self._last + interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._last = time.monotonic()


def check_description(
    text: str, category: str, allowed: list[str], facts: ClaimFacts | None = None
) -> str | None:
    """Why an LLM description contradicts the ground truth, or None if it does not; with
    `facts`, every claim the claim checker reads must hold too (a cue the way it was
    measured, no original unless one was shown, no confidence words)."""
    if not text.strip():
        return "empty"
    if parse_detection(text) == "real":
        return "calls the face real"
    named = parse_category(text)
    if named not in (UNPARSEABLE, category, "real"):
        return f"names {named}"
    extra = [r for r in find_regions(text) if r not in allowed and r != "skin"]
    if extra:
        return f"names an untouched region ({region_label(extra[0])})"
    if facts is not None:
        broken = [c for c in check_claims(text, facts) if not c.holds]
        if broken:
            return broken[0].reason
    return None


def _facts(m: Measurements) -> str:
    # The method's operations are left out: a description may say only what a report on
    # this image could show (`check_description` rejects a sub-technique).
    parts = []
    cues = {k: round(v, 2) for k, v in m.face_cues.items()}
    if cues:
        parts.append(f"Cues of the manipulated area (ratios: 1 = like the rest): {cues}.")
    return " ".join(p for p in parts if p)


def _data_url(path: Path, data: bytes) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    mime = "jpeg" if suffix in ("jpg", "jpeg") else (suffix or "png")
    return f"data:image/{mime};base64,{base64.b64encode(data).decode('ascii')}"
