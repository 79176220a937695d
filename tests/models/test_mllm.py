"""DFA-GPT's core on a tiny random Llama: answer-only labels, image splicing, and a toy task
that can only be learned from the image (so the visual tokens really condition the output)."""

from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from opendfa.models.detector import DetectorConfig, MultiTaskDetector  # noqa: E402
from opendfa.models.mllm import (  # noqa: E402
    DFAGPT,
    IGNORE,
    IMAGE_TOKEN,
    VisionEncoder,
    collate,
    encode_conversation,
)
from tiny_models import tiny_llama_config, word_tokenizer  # noqa: E402

WORDS = ["USER", "ASSISTANT", ":", "is", "this", "face", "real", "or", "fake", "?", "\n"]


@pytest.fixture(scope="module")
def tokenizer():
    return word_tokenizer(WORDS)


def _model(tokenizer) -> DFAGPT:
    torch.manual_seed(0)
    config = tiny_llama_config(len(tokenizer), max_position_embeddings=128)
    lm = transformers.LlamaForCausalLM(config)
    # ImageNet weights: a random backbone's features are all but constant.
    detector = MultiTaskDetector(DetectorConfig(input_size=64, mask_size=8), pretrained=True)
    detector.eval()
    image_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    return DFAGPT(VisionEncoder(detector), lm, image_id)


def _conversation(answer: str) -> list[dict]:
    return [
        {"from": "human", "value": f"{IMAGE_TOKEN}\nis this face real or fake ?"},
        {"from": "gpt", "value": answer},
    ]


def test_labels_cover_the_answer_and_its_end_only(tokenizer):
    ids, labels = encode_conversation(tokenizer, _conversation("fake"))
    kept = [tokenizer.convert_ids_to_tokens(t) for t in labels if t != IGNORE]
    assert kept == ["fake", "</s>"]
    assert ids.count(tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)) == 1


def test_splicing_inserts_the_visual_tokens(tokenizer):
    model = _model(tokenizer)
    batch = collate(
        tokenizer, [encode_conversation(tokenizer, _conversation(a)) for a in ("real", "fake")]
    )
    images = torch.rand(2, 3, 64, 64)
    visual = model.encode_images(images)
    embeds, mask, labels = model.splice(visual, batch.input_ids, batch.attention_mask, batch.labels)
    n = (64 // 32) ** 2
    assert embeds.shape[:2] == (2, batch.input_ids.shape[1] - 1 + n)
    assert mask.shape == labels.shape == embeds.shape[:2]
    k = int((batch.input_ids[0] == model.image_token_id).nonzero()[0, 0])
    assert bool((labels[0, k : k + n] == IGNORE).all()) and bool((mask[0, k : k + n] == 1).all())
    with pytest.raises(ValueError, match="exactly one image token"):
        model.splice(visual, batch.input_ids[:, :1], batch.attention_mask[:, :1])


@pytest.mark.slow
def test_a_toy_task_is_learned_from_the_image(tokenizer):
    """Bright images are 'fake', dark ones 'real': only the visual tokens tell them apart."""
    model = _model(tokenizer)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=3e-3)
    bright, dark = torch.full((1, 3, 64, 64), 0.9), torch.full((1, 3, 64, 64), 0.1)
    images = torch.cat([bright, dark])
    batch = collate(
        tokenizer, [encode_conversation(tokenizer, _conversation(a)) for a in ("fake", "real")]
    )
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = model(images, batch)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.2 * losses[0]
    model.eval()
    prompt = collate(tokenizer, [_prompt_only(tokenizer)] * 2, left=True)
    new = model.generate(
        model.encode_images(images),
        prompt,
        max_new_tokens=3,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    answers = [tokenizer.decode(row, skip_special_tokens=True).strip() for row in new]
    assert answers == ["fake", "real"]


def _prompt_only(tokenizer):
    """The question and `ASSISTANT:`: the model must say the answer word."""
    ids, labels = encode_conversation(tokenizer, _conversation("fake")[:1], generation_prompt=True)
    assert all(t == IGNORE for t in labels)
    full, _ = encode_conversation(tokenizer, _conversation("fake"))
    assert full[: len(ids)] == ids and len(full) == len(ids) + 2
    return ids, labels


def test_lora_trains_only_adapters_and_projector_and_round_trips(tokenizer, tmp_path):
    pytest.importorskip("peft")
    from opendfa.models.mllm import LoRAConfig, apply_lora, load_trainable, save_trainable

    model = apply_lora(_model(tokenizer), LoRAConfig(r=4, alpha=8, dropout=0.0))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("projector.") for n in trainable)
    images = torch.rand(2, 3, 64, 64)
    batch = collate(
        tokenizer, [encode_conversation(tokenizer, _conversation(a)) for a in ("fake", "real")]
    )
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(3):
        optimizer.zero_grad()
        model(images, batch).backward()
        optimizer.step()
    save_trainable(model, tmp_path / "dfa-gpt.safetensors")
    fresh = apply_lora(_model(tokenizer), LoRAConfig(r=4, alpha=8, dropout=0.0))
    with torch.no_grad():
        before = fresh(images, batch)
        load_trainable(fresh, tmp_path / "dfa-gpt.safetensors")
        after, trained = fresh(images, batch), model(images, batch)
    assert float(after) == pytest.approx(float(trained), abs=1e-5) and float(before) != float(after)
