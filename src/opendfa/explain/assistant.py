"""Ask a loaded DFA-GPT about aligned face crops: the prompt (with the detector's evidence line
when the model was trained with it), batched greedy answers, streamed chat replies. Used by the
`dfa-gpt` chat backend, the benchmark's answerer and the trainer's evaluation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from opendfa.evidence.judge import crop_evidence_line
from opendfa.explain.decoding import DecodeResult, grounded_greedy
from opendfa.models.dfagpt import LoadedDFAGPT, first_question, image_tensor
from opendfa.models.mllm import collate, encode_conversation


class _CallbackStreamer:
    """A transformers streamer that hands each finished piece of text to `on_text`."""

    def __init__(self, tokenizer, on_text: Callable[[str], None]) -> None:
        from transformers import TextStreamer

        outer = self

        class _Streamer(TextStreamer):
            def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
                if text:
                    outer.on_text(text)

        self.on_text = on_text
        self.streamer = _Streamer(tokenizer, skip_prompt=True, skip_special_tokens=True)


@dataclass
class Exchange:
    question: str
    answer: str


class Assistant:
    """Ask a loaded DFA-GPT about aligned face crops: one question with history (chat, with
    streaming) or many single questions at once (the benchmark)."""

    def __init__(self, loaded: LoadedDFAGPT) -> None:
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer
        self.last_rollbacks = 0  # back-offs of the last `ask` (grounded decoding)

    def visual(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        size = self.loaded.image_size
        images = torch.stack([image_tensor(c, size) for c in crops]).to(self.loaded.device)
        with torch.inference_mode():
            return self.loaded.model.encode_images(images)

    def evidence_for(self, crop: np.ndarray) -> str:
        """The detector's evidence line on `crop`, for a prompt with no report behind it."""
        return crop_evidence_line(self.loaded.detector, crop, self.loaded.config.evidence_version)

    def prompt(
        self, question: str, history: Sequence[Exchange] = (), evidence: str | None = None
    ) -> tuple[list[int], list[int]]:
        """The encoded conversation ending in `ASSISTANT:`; the oldest exchanges after the first
        are dropped when it would not fit in `max_length`."""
        limit = int(self.loaded.config.max_length)
        history = list(history)
        while True:
            turns = []
            for index, exchange in enumerate([*history, Exchange(question, "")]):
                text = (
                    first_question(exchange.question, evidence) if index == 0 else exchange.question
                )
                turns.append({"from": "human", "value": text})
                if index < len(history):
                    turns.append({"from": "gpt", "value": exchange.answer})
            ids, labels = encode_conversation(
                self.tokenizer, turns, max_length=10**9, generation_prompt=True
            )
            if len(ids) <= limit:
                return ids, labels
            if not history:
                raise ValueError(f"the question is too long ({len(ids)} tokens > {limit})")
            history = history[1:]

    def ask(
        self,
        crop: np.ndarray,
        question: str,
        history: Sequence[Exchange] = (),
        *,
        evidence: str | None = None,
        max_new_tokens: int = 160,
        min_new_tokens: int = 0,
        temperature: float = 0.0,
        on_text: Callable[[str], None] | None = None,
        review: Callable[[str, bool], int | None] | None = None,
        visual: torch.Tensor | None = None,
    ) -> str:
        """The model's answer to `question` about the face in `crop`. Greedy answers are decoded
        here (`opendfa.explain.decoding`), cut back where `review` (a `GroundedReview`) finds
        what the report does not hold; `last_rollbacks` says how often that happened. A sampled
        answer (`temperature` > 0) goes through `generate` and is not reviewed. `visual` is
        `self.visual([crop])` when the caller keeps it (a chat asks about one face many times)."""
        if evidence is None and self.loaded.config.evidence:
            evidence = self.evidence_for(crop)
        if visual is None:
            visual = self.visual([crop])
        batch = collate(self.tokenizer, [self.prompt(question, history, evidence)], left=True)
        self.last_rollbacks = 0
        if temperature > 0:
            streamer = _CallbackStreamer(self.tokenizer, on_text).streamer if on_text else None
            new = self._generate(visual, batch, max_new_tokens, temperature, streamer)
            return self.tokenizer.decode(new[0], skip_special_tokens=True).strip()
        result = self._decode(visual, batch, max_new_tokens, min_new_tokens, review, on_text)
        self.last_rollbacks = result.rollbacks
        return self.tokenizer.decode(result.tokens, skip_special_tokens=True).strip()

    def _decode(
        self, visual, batch, max_new_tokens, min_new_tokens, review, on_text
    ) -> DecodeResult:
        model = self.loaded.model
        device = self.loaded.device
        with torch.inference_mode():
            embeds, mask, _ = model.splice(
                visual, batch.input_ids.to(device), batch.attention_mask.to(device)
            )
        return grounded_greedy(
            model.lm,
            embeds,
            mask,
            self.tokenizer,
            review,
            max_new_tokens=max_new_tokens,
            min_new_tokens=min_new_tokens,
            eos_token_id=self.tokenizer.eos_token_id,
            suppress=(model.image_token_id,),
            on_text=on_text,
        )

    def answer_many(
        self,
        crops: Sequence[np.ndarray],
        questions: Sequence[str],
        *,
        max_new_tokens: int = 160,
        evidence: Sequence[str | None] | None = None,
    ) -> list[str]:
        """Greedy answers to single questions, one per crop, generated as one batch."""
        if evidence is None:
            evidence = [
                self.evidence_for(c) if self.loaded.config.evidence else None for c in crops
            ]
        prompts = [self.prompt(q, (), e) for q, e in zip(questions, evidence, strict=True)]
        batch = collate(self.tokenizer, prompts, left=True)
        new = self._generate(self.visual(crops), batch, max_new_tokens, 0.0, None)
        return [self.tokenizer.decode(row, skip_special_tokens=True).strip() for row in new]

    def _generate(self, visual, batch, max_new_tokens, temperature, streamer) -> torch.Tensor:
        device = self.loaded.device
        batch.input_ids = batch.input_ids.to(device)
        batch.attention_mask = batch.attention_mask.to(device)
        return self.loaded.model.generate(
            visual,
            batch,
            max_new_tokens=max_new_tokens,
            eos_token_id=self.tokenizer.eos_token_id,
            pad_token_id=self.tokenizer.pad_token_id,
            temperature=temperature,
            streamer=streamer,
        )
