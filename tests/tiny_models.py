"""Tiny random models, built the same way wherever a test needs one: a detector folder, a Llama
with a word-level tokenizer, a DFA-GPT config.

The session fixtures of `tests/conftest.py` (`tiny_model`, `tiny_lm_dir`, `tiny_dfagpt_dir`)
build each once; tests that need a variant (another size, a boundary head) call these helpers.
Heavy imports stay inside the functions, so collecting the tests stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

IMAGE_TOKEN = "<image>"  # opendfa.models.mllm.IMAGE_TOKEN, without importing torch here
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "<s>", "</s>", IMAGE_TOKEN)
TINY_DETECTOR = {"input_size": 64, "mask_size": 8}


def random_detector(**config):
    """An untrained detector (seed 0, no ImageNet weights), 64 px unless `config` says otherwise."""
    import torch

    from opendfa.models.detector import DetectorConfig, MultiTaskDetector

    torch.manual_seed(0)
    return MultiTaskDetector(DetectorConfig(**{**TINY_DETECTOR, **config}), pretrained=False)


def save_random_detector(
    folder: Path, *, name: str | None = None, temperature: float = 1.0, **config
) -> Path:
    """`random_detector(**config)` saved as a model folder; returns the folder."""
    from opendfa.models.detector import save_detector

    return save_detector(random_detector(**config), folder, name=name, temperature=temperature)


def word_splitter():
    """Lines, then whitespace, then punctuation: the pre-tokenizer of `word_tokenizer`."""
    from tokenizers import pre_tokenizers

    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split("\n", "isolated"),
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Punctuation(),
        ]
    )


def word_tokenizer(words: Iterable[str]):
    """A word-level tokenizer: `SPECIAL_TOKENS` first (pad 0, bos 2, eos 3), then `words` in
    the order given."""
    import transformers
    from tokenizers import Tokenizer, models

    vocab = {w: i for i, w in enumerate([*SPECIAL_TOKENS, *words])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = word_splitter()
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="[PAD]",
        unk_token="[UNK]",
        bos_token="<s>",
        eos_token="</s>",
        additional_special_tokens=[IMAGE_TOKEN],
    )


def tiny_llama_config(vocab_size: int, **overrides):
    """A two-layer Llama of width 32: seconds to build, train a few steps and generate."""
    import transformers

    shape = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 256,
    }
    return transformers.LlamaConfig(vocab_size=vocab_size, **{**shape, **overrides})


def tiny_dfagpt_config(lm_dir: Path, detector_dir: str):
    """DFA-GPT on the tiny LM and detector, with a rank-4 LoRA; a fresh config each call (a
    build keeps it, and training writes into its `info`)."""
    from opendfa.models import dfagpt

    lora = {"r": 4, "alpha": 8, "dropout": 0.0}
    return dfagpt.DFAGPTConfig(lm=str(lm_dir), detector=detector_dir, lora=lora)
