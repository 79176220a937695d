"""A DFA-GPT model folder: build, save, load, and ask it about a face.

A folder holds `config.json` (which language model, which detector backbone sees the image,
image size, LoRA shape, whether the detector's evidence goes into the prompt, the weights'
sha256) and `trainable.safetensors` (projector + LoRA adapters, a few MB to a few hundred MB),
written and checked by `opendfa.models.folder`. The base LM
and the detector are loaded from where they live (`opendfa.models.lm`, the detector registry),
so a folder is small and never holds code or pickles.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from opendfa.models.configs import DEFAULT_MODEL
from opendfa.models.folder import checked_sha256, read_config, save_model_files
from opendfa.models.lm import DEFAULT_LM, load_lm
from opendfa.models.mllm import (
    DFAGPT,
    IMAGE_TOKEN,
    LoRAConfig,
    VisionEncoder,
    apply_lora,
    load_trainable,
    save_trainable,
)
from opendfa.safe_files import write_text_atomic

FORMAT = "opendfa.dfa-gpt/1"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "trainable.safetensors"
VOCABULARY_FILE = "answer_vocabulary.json"  # optional: the output layer's rows at inference
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "assets" / "models" / "dfa-gpt"


def bundled_model_dir() -> Path | None:
    """The DFA-GPT folder shipped in the package (adapters + projector), or None when this
    installation has none. The base LM it needs comes with the `gemma` extra."""
    if (BUNDLED_DIR / CONFIG_FILE).is_file() and (BUNDLED_DIR / WEIGHTS_FILE).is_file():
        return BUNDLED_DIR
    return None


@dataclass
class DFAGPTConfig:
    lm: str = DEFAULT_LM  # the default's name, or a local Hugging Face folder
    detector: str = DEFAULT_MODEL  # whose backbone encodes the image
    evidence: bool = False  # the detector's numbers as text in the first question
    # The evidence line's version (`opendfa.evidence.words.detector_line`): a model is shown
    # the line it was trained with; folders from before version 2 carry none and read 1.
    evidence_version: int = 1
    lora: dict = field(default_factory=lambda: asdict(LoRAConfig()))
    max_length: int = 448
    info: dict = field(default_factory=dict)  # training data, metrics (for the model card)

    def to_json(self) -> dict:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict) -> DFAGPTConfig:
        if data.get("format") != FORMAT:
            raise ValueError("not a DFA-GPT config (format != opendfa.dfa-gpt/1)")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        lora = dict(known.get("lora", {}))
        lora["target_modules"] = tuple(lora.get("target_modules", LoRAConfig.target_modules))
        known["lora"] = lora
        return cls(**known)


@dataclass
class LoadedDFAGPT:
    model: DFAGPT
    tokenizer: object
    config: DFAGPTConfig
    detector: object  # LoadedDetector (for the evidence and the image size)
    folder: Path | None = None

    @property
    def image_size(self) -> int:
        return int(self.detector.config.input_size)

    @property
    def device(self) -> torch.device:
        return next(self.model.projector.parameters()).device


def build(config: DFAGPTConfig, *, device: str = "cpu", dtype=torch.float32, log=None):
    """A fresh DFA-GPT: the detector's frozen backbone, a new projector, the LM with LoRA."""
    from opendfa.models.detector import load_detector

    detector = load_detector(config.detector, device=device)
    lm, tokenizer = load_lm(config.lm, dtype=dtype, log=log)
    image_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    model = DFAGPT(VisionEncoder(detector.model), lm, image_id)
    model = apply_lora(model, LoRAConfig(**config.lora))
    model.projector.to(dtype)
    model.to(device)
    return LoadedDFAGPT(model, tokenizer, config, detector)


def save(loaded: LoadedDFAGPT, folder: str | Path) -> Path:
    """The trainable weights and the config with their sha256 (`opendfa.models.folder`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_model_files(
        folder / WEIGHTS_FILE,
        lambda path: save_trainable(loaded.model, path),
        folder / CONFIG_FILE,
        loaded.config.to_json(),
    )
    return folder


def load(folder: str | Path, *, device: str = "cpu", dtype=torch.float32, log=None):
    """Load a trained DFA-GPT folder in eval mode; its weights are checked against the sha256
    in its config when it records one."""
    folder = Path(folder)
    if not (folder / CONFIG_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(
            f"no DFA-GPT model in {folder} (expected {CONFIG_FILE} and {WEIGHTS_FILE}); "
            "train one with `opendfa train mllm`"
        )
    info = read_config(folder / CONFIG_FILE, "DFA-GPT")
    try:
        config = DFAGPTConfig.from_json(info)
    except TypeError as err:
        raise ValueError(f"unreadable DFA-GPT config in {folder}: {err}") from None
    checked_sha256(folder / WEIGHTS_FILE, info)
    loaded = build(config, device=device, dtype=dtype, log=log)
    load_trainable(loaded.model, folder / WEIGHTS_FILE)
    loaded.model.eval()
    loaded.folder = folder
    return loaded


INT8 = "int8"  # the `weights` of `prepare_for_inference` that asks for `quantize_for_cpu`


def load_for_inference(
    folder: str | Path, *, weights: str = "auto", full_vocabulary: bool = False
) -> LoadedDFAGPT:
    """A DFA-GPT folder as chat, the bench and the speed bench run it: loaded, then
    `prepare_for_inference`."""
    return prepare_for_inference(load(folder), weights=weights, full_vocabulary=full_vocabulary)


def prepare_for_inference(
    loaded: LoadedDFAGPT, *, weights: str = "auto", full_vocabulary: bool = False
) -> LoadedDFAGPT:
    """LoRA merged and the weights in `weights`: "int8" (`quantize_for_cpu`), or the dtype the
    LM computes in, "float32", "bfloat16" or "auto" (`merge_for_inference`)."""
    if weights == INT8:
        return quantize_for_cpu(loaded, full_vocabulary=full_vocabulary)
    return merge_for_inference(loaded, full_vocabulary=full_vocabulary, dtype=weights)


def merge_for_inference(
    loaded: LoadedDFAGPT, *, full_vocabulary: bool = False, dtype: torch.dtype | str = "float32"
) -> LoadedDFAGPT:
    """Fold the LoRA adapters into the LM's weights (same answers, no extra matmuls per layer);
    the model can no longer be trained or saved as adapters afterwards. When the folder has an
    answer vocabulary, the output layer is cut to it (`restrict_vocabulary`) unless
    `full_vocabulary`. `dtype` ("float32", "bfloat16" or "auto": `inference_dtype`) is what the
    LM and the projector then compute in; the vision encoder stays in float32."""
    if hasattr(loaded.model.lm, "merge_and_unload"):
        loaded.model.lm = loaded.model.lm.merge_and_unload()
    vocabulary = read_vocabulary(loaded.folder) if loaded.folder and not full_vocabulary else None
    if vocabulary:
        restrict_vocabulary(loaded, vocabulary)
    if dtype == "auto":
        dtype = inference_dtype(loaded.device)
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    loaded.model.lm.to(dtype)
    loaded.model.projector.to(dtype)
    loaded.model.eval()
    return loaded


def inference_dtype(device: str | torch.device = "cpu") -> torch.dtype:
    """bfloat16 where the hardware computes it natively (a GPU; a CPU with AVX512-BF16 or AMX):
    decoding reads every weight once per token, so half the bytes gives more tokens/s
    (benchmarks/RESULTS.md, "DFA-GPT speed").
    Elsewhere float32: emulated bfloat16 is slower than float32."""
    if str(device).startswith("cuda"):
        return torch.bfloat16
    return torch.bfloat16 if _cpu_has_bf16() else torch.float32


def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:  # not Linux: no cheap way to tell, stay exact
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def answer_vocabulary(tokenizer, records) -> list[int]:
    """Every token id of the answers and questions in `records` (DFA-Instruct conversations),
    plus the special tokens: the words a tuned DFA-GPT actually says (324 ids for the 55,765
    answers of the v1 training set)."""
    ids: set[int] = set(tokenizer.all_special_ids)
    for record in records:
        for turn in record.conversations:
            text = turn["value"].replace(IMAGE_TOKEN, "").strip()
            ids.update(tokenizer(text, add_special_tokens=False)["input_ids"])
    return sorted(ids)


def save_vocabulary(folder: str | Path, ids: list[int]) -> None:
    write_text_atomic(Path(folder) / VOCABULARY_FILE, json.dumps({"token_ids": sorted(ids)}) + "\n")


def read_vocabulary(folder: str | Path) -> list[int] | None:
    path = Path(folder) / VOCABULARY_FILE
    if not path.is_file():
        return None
    return [int(i) for i in json.loads(path.read_text())["token_ids"]]


class VocabularyHead(torch.nn.Module):
    """The LM's output layer over a subset of the vocabulary: logits are computed for those
    rows only and the others set to a large negative value. Gemma-3-270M's 262,144-row output
    layer is most of the work per generated token on a CPU; a tuned DFA-GPT answers in a few
    hundred distinct tokens, so its greedy answers do not change (tested) and decoding is
    several times faster."""

    MASKED = -1e4

    def __init__(self, head: torch.nn.Module, ids: list[int], vocab_size: int) -> None:
        super().__init__()
        index = torch.tensor(sorted(set(ids)), dtype=torch.long)
        weight = head.weight.detach()[index].clone()
        self.register_buffer("index", index)
        self.register_buffer("weight", weight)
        self.vocab_size = int(vocab_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        part = torch.nn.functional.linear(hidden, self.weight.to(hidden.dtype))
        logits = part.new_full((*hidden.shape[:-1], self.vocab_size), self.MASKED)
        logits[..., self.index] = part
        return logits


def restrict_vocabulary(loaded: LoadedDFAGPT, ids: list[int]) -> None:
    """Swap the LM's output layer for a `VocabularyHead` over `ids` (inference only)."""
    lm = loaded.model.lm
    head = lm.get_output_embeddings()
    vocab = int(head.weight.shape[0])
    lm.set_output_embeddings(VocabularyHead(head, ids, vocab))


def quantize_for_cpu(loaded: LoadedDFAGPT, *, full_vocabulary: bool = False) -> LoadedDFAGPT:
    """Merge LoRA into the LM and store its linear layers' weights as int8 with one scale per
    output row (weight-only): CPU decoding is limited by reading weights, so a quarter of the
    bytes is several times faster. Activations stay in float: PyTorch's dynamic int8, which
    quantizes activations too, turned Gemma-3's answers into noise (its activations carry large
    outliers), see benchmarks/dfa_gpt.md."""
    model = merge_for_inference(loaded, full_vocabulary=full_vocabulary).model
    _swap_linears(model.lm)
    model.eval()
    return loaded


class Int8WeightLinear(torch.nn.Module):
    """`nn.Linear` with an int8 weight and a float32 scale per output row (symmetric)."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        weight = linear.weight.detach().float()
        scale = weight.abs().amax(dim=1).clamp(min=1e-12) / 127.0
        quantized = torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8)
        self.register_buffer("weight_int8", quantized.contiguous())
        self.register_buffer("scale", scale.contiguous())
        bias = None if linear.bias is None else linear.bias.detach().float().clone()
        self.register_buffer("bias", bias)
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features).float()
        y = torch.ops.aten._weight_int8pack_mm(flat, self.weight_int8, self.scale)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*x.shape[:-1], self.out_features).to(x.dtype)


def _swap_linears(module: torch.nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, torch.nn.Linear):
            setattr(module, name, Int8WeightLinear(child))
        else:
            _swap_linears(child)


# ----------------------------------------------------------------------------- prompts and images


def first_question(question: str, evidence: str | None) -> str:
    """The first user turn: the image token, the evidence line if any, then the question."""
    question = question.replace(IMAGE_TOKEN, "").strip()
    parts = [IMAGE_TOKEN] + ([evidence] if evidence else []) + [question]
    return "\n".join(parts)


def image_tensor(crop: np.ndarray, size: int) -> torch.Tensor:
    """An aligned uint8 RGB crop as the (3, size, size) float tensor in [0, 1] the encoder takes."""
    if crop.shape[0] != size or crop.shape[1] != size:
        shrink = crop.shape[0] > size
        crop = cv2.resize(
            crop, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        )
    return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float() / 255.0


def read_crop(path: str | Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
