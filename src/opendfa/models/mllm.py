"""DFA-GPT's architecture (groundwork for `opendfa train mllm`): vision encoder, MLP projector,
causal LM, with the image's tokens spliced in place of one `<image>` token.

As in LLaVA-1.5 / the DFA paper: a grid of visual features (here the stride-32 feature map of
the detector's backbone, so forgery features reach the LM, or of a plain ImageNet backbone) is
mapped by a 2-layer MLP (GELU) to the LM's embedding width; the prompt's `<image>` token is
replaced by those N embeddings; the loss is on the answer tokens only (labels -100 elsewhere).
Any Hugging Face causal LM that accepts `inputs_embeds` works (Gemma, Llama/Vicuna, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

IGNORE = -100
IMAGE_TOKEN = "<image>"
ROLES = {"human": "USER", "gpt": "ASSISTANT"}


class VisionEncoder(nn.Module):
    """Image (B, 3, S, S) in [0, 1] -> visual tokens (B, (S/32)^2, C) from a detector's backbone
    (ImageNet-normalised inside, as the detector itself does)."""

    def __init__(self, detector: nn.Module, *, trainable: bool = False) -> None:
        super().__init__()
        self.backbone = detector.backbone
        self.register_buffer("mean", detector.mean.clone(), persistent=False)
        self.register_buffer("std", detector.std.clone(), persistent=False)
        self.out_channels = int(self.backbone.out_channels)
        self.backbone.requires_grad_(trainable)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        _, top = self.backbone.features((images - self.mean) / self.std)
        return top.flatten(2).transpose(1, 2)


class MLPProjector(nn.Sequential):
    """LLaVA-1.5's projector: Linear -> GELU -> Linear, vision width to LM width."""

    def __init__(self, vision_dim: int, lm_dim: int) -> None:
        super().__init__(nn.Linear(vision_dim, lm_dim), nn.GELU(), nn.Linear(lm_dim, lm_dim))


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, T) with exactly one image token per row
    attention_mask: torch.Tensor  # (B, T)
    labels: torch.Tensor  # (B, T), IGNORE except on answer tokens


class DFAGPT(nn.Module):
    def __init__(self, vision: VisionEncoder, lm: nn.Module, image_token_id: int) -> None:
        super().__init__()
        self.vision = vision
        self.lm = lm
        self.image_token_id = int(image_token_id)
        width = lm.get_input_embeddings().weight.shape[1]
        self.projector = MLPProjector(vision.out_channels, width)

    def splice(
        self,
        images: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Input embeddings with each row's image token replaced by its N visual tokens;
        the attention mask and labels grown to match (labels IGNORE on image positions)."""
        per_row = (input_ids == self.image_token_id).sum(1)
        if not bool((per_row == 1).all()):
            raise ValueError(f"each sequence needs exactly one image token, got {per_row.tolist()}")
        visual = self.projector(self.vision(images))  # (B, N, D)
        text = self.lm.get_input_embeddings()(input_ids)
        n = visual.shape[1]
        rows, masks, targets = [], [], []
        for b in range(input_ids.shape[0]):
            k = int((input_ids[b] == self.image_token_id).nonzero()[0, 0])
            rows.append(torch.cat([text[b, :k], visual[b], text[b, k + 1 :]]))
            ones = attention_mask.new_ones(n)
            masks.append(torch.cat([attention_mask[b, :k], ones, attention_mask[b, k + 1 :]]))
            if labels is not None:
                ignore = labels.new_full((n,), IGNORE)
                targets.append(torch.cat([labels[b, :k], ignore, labels[b, k + 1 :]]))
        stacked = torch.stack(targets) if labels is not None else None
        return torch.stack(rows), torch.stack(masks), stacked

    def forward(self, images: torch.Tensor, batch: Batch) -> torch.Tensor:
        """The mean cross-entropy of the answer tokens."""
        embeds, mask, labels = self.splice(
            images, batch.input_ids, batch.attention_mask, batch.labels
        )
        logits = self.lm(inputs_embeds=embeds, attention_mask=mask).logits
        return F.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
            labels[:, 1:].reshape(-1),
            ignore_index=IGNORE,
        )


def encode_conversation(tokenizer, conversations: list[dict], max_length: int = 512):
    """Token ids and labels of a LLaVA conversation: `USER: ... ASSISTANT: ...` turns, the loss
    on the assistant's words and the end-of-sequence after each answer only."""
    ids: list[int] = []
    labels: list[int] = []
    if tokenizer.bos_token_id is not None:
        ids.append(tokenizer.bos_token_id)
        labels.append(IGNORE)
    for turn in conversations:
        role = ROLES[turn["from"]]
        prefix = tokenizer(f"{role}: ", add_special_tokens=False)["input_ids"]
        body = tokenizer(turn["value"].strip(), add_special_tokens=False)["input_ids"]
        ids += prefix + body
        if role == "ASSISTANT":
            ids.append(tokenizer.eos_token_id)
            labels += [IGNORE] * len(prefix) + body + [tokenizer.eos_token_id]
        else:
            newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
            ids += newline
            labels += [IGNORE] * (len(prefix) + len(body) + len(newline))
    return ids[:max_length], labels[:max_length]


def collate(tokenizer, examples: list[tuple[list[int], list[int]]]) -> Batch:
    """Right-padded batch of encoded conversations."""
    width = max(len(ids) for ids, _ in examples)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    input_ids = torch.full((len(examples), width), pad, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (ids, target) in enumerate(examples):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(target)] = torch.tensor(target)
        mask[row, : len(ids)] = 1
    return Batch(input_ids=input_ids, attention_mask=mask, labels=labels)


# ----------------------------------------------------------------------------- LoRA and checkpoints


@dataclass
class LoRAConfig:
    """The DFA paper's LoRA: rank 128, alpha 256, on the attention and MLP projections."""

    r: int = 128
    alpha: int = 256
    dropout: float = 0.05
    target_modules: tuple[str, ...] = (
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    )


def apply_lora(model: DFAGPT, config: LoRAConfig | None = None) -> DFAGPT:
    """Wrap the LM with LoRA adapters (peft); the LM's own weights and the vision encoder are
    frozen, the adapters and the projector train."""
    from peft import LoraConfig, get_peft_model

    config = config or LoRAConfig()
    lora = LoraConfig(
        r=config.r,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    model.lm = get_peft_model(model.lm, lora)
    model.vision.requires_grad_(False)
    model.projector.requires_grad_(True)
    return model


def trainable_state(model: DFAGPT) -> dict[str, torch.Tensor]:
    """What a DFA-GPT checkpoint holds: the projector and the LoRA adapter weights."""
    state = {f"projector.{k}": v for k, v in model.projector.state_dict().items()}
    for name, tensor in model.lm.state_dict().items():
        if "lora_" in name:
            state[f"lm.{name}"] = tensor
    return {k: v.detach().cpu().contiguous() for k, v in state.items()}


def save_trainable(model: DFAGPT, path) -> None:
    from safetensors.torch import save_file

    save_file(trainable_state(model), str(path), metadata={"format": "opendfa.dfa-gpt/1"})


def load_trainable(model: DFAGPT, path) -> None:
    """Load projector + adapters saved by `save_trainable` into a model of the same shape."""
    from safetensors.torch import load_file

    state = load_file(str(path))
    projector = {
        k.removeprefix("projector."): v for k, v in state.items() if k.startswith("projector.")
    }
    model.projector.load_state_dict(projector, strict=True)
    adapters = {k.removeprefix("lm."): v for k, v in state.items() if k.startswith("lm.")}
    missing = set(adapters) - set(model.lm.state_dict())
    if missing:
        raise ValueError(f"checkpoint adapters do not fit this model: {sorted(missing)[:3]}")
    model.lm.load_state_dict(adapters, strict=False)
