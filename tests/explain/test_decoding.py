"""Grounded decoding: a sentence the report does not hold is cut back to the word where it
breaks, that word is banned there, and greedy decoding goes on; the stream shows only checked
sentences."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from opendfa.explain.decoding import DESCRIPTION_MIN_TOKENS, GroundedReview, min_answer_tokens

FAKE_SWAP = dict(verdict="fake", category="face_swap", region_scores={"mouth": 0.9, "nose": 0.2})


def test_a_sentence_naming_an_unsupported_region_is_cut_at_that_word():
    review = GroundedReview(**FAKE_SWAP)
    text = "This is a face swap. The manipulated area covers the mouth and the nose."
    assert review(text[:20], final=False) is None and review.settled == 20
    assert review(text, final=False) == text.index("nose")
    assert review.cuts == ["The manipulated area covers the mouth and the nose."]


def test_negated_and_compared_regions_are_kept():
    review = GroundedReview(**FAKE_SWAP)
    text = "The mouth is blurrier than the nose. The nose shows no blur."
    assert review(text, final=False) is None and review.settled == len(text)


def test_a_region_made_of_two_words_is_cut_at_its_last_word():
    review = GroundedReview("fake", "face_swap", {"left_cheek": 0.8})
    text = "The left cheek is smooth, but the left eye is blurry."
    assert review(text, final=False) == text.index("eye is")


def test_the_other_verdict_or_type_is_cut_where_it_is_said():
    real = GroundedReview("real", None, {})
    assert real("Fake. The face was swapped.", final=False) == 0
    swap = GroundedReview(**FAKE_SWAP)
    assert swap("Face reenactment. The motion was altered.", final=False) == 0
    text = "The mouth is blurred, and the face was reenacted."
    assert GroundedReview(**FAKE_SWAP)(text, final=False) == text.index("and the face")


def test_a_later_sentence_with_the_other_verdict_is_cut():
    review = GroundedReview(**FAKE_SWAP)
    text = "This face is fake. On second look it is real."
    assert review(text, final=False) == text.index("On second")


def test_a_repeated_region_is_cut_where_it_is_claimed_not_where_it_is_negated():
    review = GroundedReview(**FAKE_SWAP)
    text = "The mouth is blurred and the nose is unchanged, but the nose edge is blurred."
    assert review(text, final=False) == text.rindex("nose")


def test_an_unfinished_sentence_waits_unless_the_answer_ended():
    review = GroundedReview(**FAKE_SWAP)
    assert review("The nose", final=False) is None and review.settled == 0
    assert review("The nose", final=True) == 4


def test_only_a_description_of_a_fake_is_held_open():
    assert min_answer_tokens("fake", "Describe the artifacts.") == DESCRIPTION_MIN_TOKENS
    assert min_answer_tokens("real", "Describe the artifacts.") == 0  # it would invent some
    assert min_answer_tokens("fake", "Is this face real or fake?") == 0
    assert min_answer_tokens(None, "Why?") == 0


# ----------------------------------------------------------------------------- with a model

transformers = pytest.importorskip("transformers")
pytest.importorskip("peft")

from opendfa.explain.assistant import Assistant  # noqa: E402


@pytest.fixture(scope="module")
def assistant(random_dfagpt):
    return Assistant(random_dfagpt(3))


CROP = np.random.default_rng(0).integers(0, 255, (96, 96, 3), dtype=np.uint8)
QUESTION = "Describe the artifacts ."


class WordVeto:
    """Cuts the answer back wherever `word` stands as a whole word (a stand-in review)."""

    def __init__(self, word: str) -> None:
        self.pattern = re.compile(rf"(?<![\w]){re.escape(word)}(?![\w])")
        self.calls = 0
        self.settled = 0

    def __call__(self, text: str, final: bool) -> int | None:
        self.calls += 1
        match = self.pattern.search(text)
        self.settled = len(text) if match is None else match.start()
        return None if match is None else match.start()


def test_without_a_cut_the_answer_is_plain_greedy(assistant):
    plain = assistant.ask(CROP, QUESTION, max_new_tokens=10)
    batched = assistant.answer_many([CROP], [QUESTION], max_new_tokens=10)[0]
    assert plain == batched and assistant.last_rollbacks == 0


def test_a_cut_word_never_appears_and_the_text_before_it_is_kept(assistant):
    plain = assistant.ask(CROP, QUESTION, max_new_tokens=10)
    words = plain.split()
    banned = next(w for w in words[1:] if re.fullmatch(r"\w+", w))
    pieces: list[str] = []
    veto = WordVeto(banned)
    text = assistant.ask(CROP, QUESTION, max_new_tokens=10, review=veto, on_text=pieces.append)
    assert banned not in text.split()
    assert assistant.last_rollbacks >= 1
    assert text.startswith(plain[: plain.index(f" {banned}")])
    assert "".join(pieces).strip() == text  # nothing shown was taken back


def _prompt(assistant):
    from opendfa.models.mllm import collate

    loaded = assistant.loaded
    batch = collate(assistant.tokenizer, [assistant.prompt(QUESTION, (), None)], left=True)
    with torch.inference_mode():
        return loaded.model.splice(assistant.visual([CROP]), batch.input_ids, batch.attention_mask)[
            :2
        ]


def test_the_end_is_held_back_until_the_floor(assistant):
    from opendfa.explain.decoding import grounded_greedy

    lm, tokenizer = assistant.loaded.model.lm, assistant.tokenizer
    embeds, mask = _prompt(assistant)
    plain = grounded_greedy(lm, embeds, mask, tokenizer, None, max_new_tokens=8).tokens
    k = next(i for i in range(1, len(plain)) if plain[i] not in plain[:i])
    end = plain[k]  # as if the model wanted to stop after k tokens
    short = grounded_greedy(lm, embeds, mask, tokenizer, None, eos_token_id=end).tokens
    assert short == plain[:k]
    floor = k + 3
    held = grounded_greedy(
        lm, embeds, mask, tokenizer, None, max_new_tokens=12, min_new_tokens=floor, eos_token_id=end
    ).tokens
    assert len(held) >= floor and end not in held[:floor] and held[:k] == plain[:k]


def test_back_offs_stop_at_the_limit(assistant):
    from opendfa.explain.decoding import grounded_greedy

    loaded = assistant.loaded
    embeds, mask = _prompt(assistant)
    calls = []

    def always(text: str, final: bool) -> int | None:
        calls.append(text)
        return 0 if text else None

    result = grounded_greedy(
        loaded.model.lm,
        embeds,
        mask,
        assistant.tokenizer,
        always,
        max_new_tokens=6,
        max_rollbacks=5,
    )
    assert result.rollbacks == 5 and 0 < len(result.tokens) <= 6


def test_grounded_review_on_a_model_leaves_no_break_unless_the_budget_ran_out(assistant):
    review = GroundedReview("fake", "face_swap", {})  # no region supported
    pieces: list[str] = []
    text = assistant.ask(CROP, QUESTION, max_new_tokens=24, review=review, on_text=pieces.append)
    if assistant.last_rollbacks < 24:
        assert not GroundedReview("fake", "face_swap", {}).breaks(text)
    assert "".join(pieces).strip() == text
