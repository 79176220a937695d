"""Grounded decoding: DFA-GPT's greedy answer, backed off from words the report does not hold.

DFA-GPT learned its descriptions from the synthesis engine's masks, and those name regions the
detector's evidence often does not reach: most AD training answers name a region that scores
below 0.5 on the same image (benchmarks/dfa_gpt.md), so a tuned model names unsupported
regions as readily as its references do. Checking the finished reply (`opendfa.explain.reply_check`)
can only throw the whole reply away. Here the check runs while the answer is written:

- after each finished sentence, the text so far is checked (`opendfa.metrics.grounding`, the
  check DFA-Bench counts with) against the report's verdict, forgery type and region scores;
- a sentence that breaks it is cut back: to the word that names an unsupported region (outside
  any negation), or to the start of the clause that states another forgery type or the other
  verdict ("Face reenactment." under a real verdict); the first token there is banned at that
  position, and greedy decoding goes on from there with the KV cache cropped;
- after `max_rollbacks` back-offs the text is left as it is (the guard still checks it).

An answer with nothing to cut is exactly the plain greedy answer. Text is handed to `on_text`
one checked sentence at a time, so a stream never shows words that are taken back.
"""

from __future__ import annotations

import inspect
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from opendfa.explain.intents import asks_for_description
from opendfa.metrics.claims import ClaimFacts, check_claims
from opendfa.metrics.grounding import contradiction, region_mentions, stated_verdict

# A description under a fake verdict is not done after one line: left to itself DFA-GPT often
# answered with its forgery type alone ("This is a face swap (identity replacement)."); with
# the end of the answer held back for 24 tokens it goes on to describe the traces (measured in
# benchmarks/dfa_gpt.md, "What changed the AD row").
DESCRIPTION_MIN_TOKENS = 24

SENTENCE_END = re.compile(r"[.;:!?\n]")
WORD = re.compile(r"[A-Za-z0-9'’-]+")
CLAUSE_MARK = re.compile(r"[,.;:!?()\n]")


def min_answer_tokens(verdict: str | None, question: str) -> int:
    """How many tokens an answer must have before it may end: `DESCRIPTION_MIN_TOKENS` for a
    question that asks for a description of a face the report calls fake, else 0. Not under a
    real verdict: held open there, the model went on to describe a manipulation it had just
    denied."""
    if verdict == "fake" and asks_for_description(question):
        return DESCRIPTION_MIN_TOKENS
    return 0


@dataclass
class GroundedReview:
    """Checks a growing answer against one report, a sentence at a time (see the module)."""

    verdict: str
    category: str | None
    region_scores: dict[str, float]
    threshold: float = 0.5
    question: str | None = None
    settled: int = 0  # characters of the answer checked and kept
    cuts: list[str] = field(default_factory=list)  # what each back-off removed, for `facts`
    # The report's cues, margin and what it names: with these, a claim about a cue, an
    # original, a sub-technique or the confidence is checked too (`claim_breaks`).
    facts: ClaimFacts | None = None

    @property
    def min_tokens(self) -> int:
        """The floor for this report's verdict and question (`min_answer_tokens`)."""
        return min_answer_tokens(self.verdict, self.question or "")

    def breaks(self, text: str, start: int = 0) -> Counter:
        """What in `text` the report does not hold, counted: each unsupported region mention
        (key `("region", phrase)`), a contradiction of the whole text, and each sentence of
        `text[start:]` that states the other verdict (over a whole text that states both, the
        verdicts cancel out; keys `("claim", reason)`)."""
        found: Counter = Counter()
        for mention in region_mentions(text):
            if not any(self.region_scores.get(r, 0.0) >= self.threshold for r in mention.regions):
                found["region", mention.phrase] += 1
        category = self.category if self.verdict == "fake" else None
        whole = contradiction(text, self.verdict, category, self.question)
        if whole:
            found["claim", whole] += 1
        for sentence in SENTENCE_END.split(text[start:]):
            said = stated_verdict(sentence)
            if said is not None and said != self.verdict:
                found["claim", f"a sentence says {said}"] += 1
        if self.facts is not None:  # claims are read per sentence: the new ones suffice
            found.update(claim_breaks(text[start:], self.facts, self.question))
        return found

    def __call__(self, text: str, final: bool) -> int | None:
        """The character offset to cut the answer back to, or None to go on."""
        end = len(text) if final else _last_sentence_end(text, self.settled)
        if end is None or end <= self.settled:
            return None
        broken = self.breaks(text[:end], self.settled)
        if not broken:
            self.settled = end
            return None
        self.cuts.append(text[self.settled : end].strip()[:200])
        return self._where(text, end, broken)

    def _where(self, text: str, end: int, broken: Counter) -> int:
        """Where to cut: scanning back from the sentence's end, for each break the last word
        whose removal lessens it (so a mention negated later in its clause, "the nose is
        unchanged", is not blamed); the earliest of those. A region is cut at its word ("the
        left eye" -> "the left" + another word); a claim (a verdict or forgery type) at the
        start of its clause, whose first words carry the claim ("Face reenactment.")."""
        words = list(WORD.finditer(text, self.settled, end))
        found: dict[tuple[str, str], int] = {}
        for word in reversed(words):
            before = self.breaks(text[: word.start()], self.settled)
            for key, count in broken.items():
                if key not in found and before[key] < count:
                    found[key] = word.start()
            if len(found) == len(broken):
                break
        cuts = [self._cut_for(kind, text, offset) for (kind, _), offset in found.items()]
        return min(cuts) if cuts else self.settled

    def _cut_for(self, kind: str, text: str, offset: int) -> int:
        """A verdict or type goes back to the start of its clause; an appeal to an original, a
        sub-technique or a confidence to the start of its sentence (cut at the word, the
        model reworded the same claim: "compared with the face in the other face"); a region
        or a cue word at the word itself."""
        if kind == "claim":
            return _clause_start(text, offset, self.settled)
        if kind in WHOLE_SENTENCE_KINDS:
            return _sentence_start(text, offset, self.settled)
        return offset

    def rolled_back(self, offset: int) -> None:
        self.settled = min(self.settled, offset)


# Claim kinds the region and verdict checks above do not already cover.
CLAIM_KINDS = ("technique", "untouched", "attribute", "original", "confidence", "probability")
WHOLE_SENTENCE_KINDS = ("technique", "original", "confidence")


def claim_breaks(text: str, facts: ClaimFacts, question: str | None = None) -> Counter:
    """The claims of `text` (`opendfa.metrics.claims`) of `CLAIM_KINDS` that `facts` do not
    support, counted by what they say; cut back at their word, not their clause."""
    found: Counter = Counter()
    for checked in check_claims(text, facts, question):
        if checked.claim.kind in CLAIM_KINDS and not checked.holds:
            found[checked.key()] += 1
    return found


def _sentence_start(text: str, offset: int, floor: int) -> int:
    """The first word character of the sentence holding `offset` (not before `floor`)."""
    marks = [m.end() for m in SENTENCE_END.finditer(text, floor, offset)]
    start = marks[-1] if marks else floor
    word = WORD.search(text, start, offset + 1)
    return word.start() if word else offset


def _clause_start(text: str, offset: int, floor: int) -> int:
    """The first word character of the clause holding `offset` (not before `floor`)."""
    marks = [m.end() for m in CLAUSE_MARK.finditer(text, floor, offset)]
    start = marks[-1] if marks else floor
    word = WORD.search(text, start, offset + 1)
    return word.start() if word else offset


def _last_sentence_end(text: str, start: int) -> int | None:
    ends = [m.end() for m in SENTENCE_END.finditer(text, start)]
    return ends[-1] if ends else None


@dataclass
class DecodeResult:
    tokens: list[int]
    rollbacks: int


class _Stepper:
    """The LM over a prompt of input embeddings plus generated tokens, with a KV cache that can
    be cut back (re-encoded from the prompt where the cache cannot be cropped)."""

    def __init__(self, lm, embeds: torch.Tensor, mask: torch.Tensor) -> None:
        self.lm, self.embeds, self.mask = lm, embeds, mask
        self.prompt = int(embeds.shape[1])
        self.cache = None
        self.length = 0
        # transformers 5 renamed `past_key_values` to `cache` (the old name warns until 5.40)
        names = inspect.signature(lm.forward).parameters
        self.cache_argument = "cache" if "cache" in names else "past_key_values"

    def start(self, tokens: list[int]) -> torch.Tensor:
        inputs = self.embeds
        if tokens:
            ids = torch.tensor([tokens], device=self.embeds.device)
            more = self.lm.get_input_embeddings()(ids).to(self.embeds.dtype)
            inputs = torch.cat([self.embeds, more], dim=1)
        mask = torch.ones(1, inputs.shape[1], dtype=self.mask.dtype, device=self.mask.device)
        mask[:, : self.prompt] = self.mask
        out = self.lm(inputs_embeds=inputs, attention_mask=mask, use_cache=True, logits_to_keep=1)
        self.cache, self.length = _cache_of(out), int(inputs.shape[1])
        return out.logits[0, -1].float()

    def step(self, token: int) -> torch.Tensor:
        self.length += 1
        mask = torch.ones(1, self.length, dtype=self.mask.dtype, device=self.mask.device)
        mask[:, : self.prompt] = self.mask
        ids = torch.tensor([[token]], device=self.embeds.device)
        options = {self.cache_argument: self.cache}
        out = self.lm(input_ids=ids, attention_mask=mask, use_cache=True, **options)
        self.cache = _cache_of(out)
        return out.logits[0, -1].float()

    def cut(self, tokens: list[int]) -> None:
        """Keep the prompt and `tokens` in the cache."""
        remove = self.length - (self.prompt + len(tokens))
        if remove <= 0:
            return
        try:
            self.cache.crop(-remove)
            self.length -= remove
        except (ValueError, RuntimeError, AttributeError):  # a sliding window already full
            self.start(tokens)


@torch.inference_mode()
def grounded_greedy(
    lm,
    embeds: torch.Tensor,
    mask: torch.Tensor,
    tokenizer,
    review: Callable[[str, bool], int | None] | None,
    *,
    max_new_tokens: int = 160,
    min_new_tokens: int = 0,
    eos_token_id: int | None = None,
    suppress: tuple[int, ...] = (),
    max_rollbacks: int = 24,
    on_text: Callable[[str], None] | None = None,
) -> DecodeResult:
    """Greedy new tokens for one prompt (`embeds` (1, L, D), `mask` (1, L)); `review` (a
    `GroundedReview`, or None for plain greedy) cuts back sentences the report does not hold."""
    stepper = _Stepper(lm, embeds, mask)
    logits_at = [stepper.start([])]
    tokens: list[int] = []
    banned: dict[int, set[int]] = {}
    rollbacks = shown = 0
    while True:
        final = len(tokens) >= max_new_tokens
        if not final:
            scores = logits_at[len(tokens)].clone()
            blocked = [*suppress, *banned.get(len(tokens), ())]
            if len(tokens) < min_new_tokens and eos_token_id is not None:
                blocked.append(eos_token_id)
            if blocked:
                scores[blocked] = float("-inf")
            token = int(scores.argmax())
            final = token == eos_token_id
            if not final:
                tokens.append(token)
        text = tokenizer.decode(tokens, skip_special_tokens=True)
        cut = review(text, final) if review is not None and rollbacks < max_rollbacks else None
        k = _token_at(tokenizer, tokens, cut) if cut is not None else 0
        if cut is not None and len(tokenizer.decode(tokens[:k], skip_special_tokens=True)) < shown:
            cut, rollbacks = None, max_rollbacks  # it would take back shown text: the guard decides
        if cut is not None:
            banned = {i: b for i, b in banned.items() if i <= k}
            banned.setdefault(k, set()).add(tokens[k])
            tokens = tokens[:k]
            logits_at = logits_at[: k + 1]
            stepper.cut(tokens)
            getattr(review, "rolled_back", lambda _: None)(
                len(tokenizer.decode(tokens, skip_special_tokens=True))
            )
            rollbacks += 1
            continue
        if on_text is not None:
            ready = len(text) if final else getattr(review, "settled", len(text))
            if ready > shown:
                on_text(text[shown:ready])
                shown = ready
        if final:
            return DecodeResult(tokens, rollbacks)
        logits_at.append(stepper.step(tokens[-1]))


def _cache_of(out):
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def _token_at(tokenizer, tokens: list[int], offset: int) -> int:
    """The index of the token whose text holds character `offset` of the decoded answer (the
    last token when the offset is past the end)."""
    for k in range(1, len(tokens) + 1):
        if len(tokenizer.decode(tokens[:k], skip_special_tokens=True)) > offset:
            return k - 1
    return max(0, len(tokens) - 1)
