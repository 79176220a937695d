"""DFA-GPT's architecture (groundwork for `opendfa train mllm`): vision encoder, MLP projector,
causal LM, with the image's tokens spliced in place of one `<image>` token.

As in LLaVA-1.5 / the DFA paper: a grid of visual features (here the stride-32 feature map of
the detector's backbone, so forgery features reach the LM, or of a plain ImageNet backbone) is
mapped by a 2-layer MLP (GELU) to the LM's embedding width; the prompt's `<image>` token is
replaced by those N embeddings; the loss is on the answer tokens only (labels -100 elsewhere).
Any Hugging Face causal LM that accepts `inputs_embeds` works (Gemma, Llama/Vicuna, ...).
"""

from __future__ import annotations

import warnings
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

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """Visual features (B, N, C) before the projector; constant while the encoder is frozen,
        so training can compute them once (`visual=` below)."""
        return self.vision(images)

    def splice(
        self,
        visual: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Input embeddings with each row's image token replaced by its N projected visual tokens
        (`visual` from `encode_images`); the attention mask and labels grown to match (labels
        IGNORE on image positions)."""
        per_row = (input_ids == self.image_token_id).sum(1)
        if not bool((per_row == 1).all()):
            raise ValueError(f"each sequence needs exactly one image token, got {per_row.tolist()}")
        text = self.lm.get_input_embeddings()(input_ids)
        visual = self.projector(visual.to(text.dtype))  # (B, N, D)
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

    def forward(
        self, images: torch.Tensor | None, batch: Batch, *, visual: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The mean cross-entropy of the answer tokens. Logits are computed only where there is
        a target: with Gemma's 262k-token vocabulary the output layer would otherwise cost more
        than the rest of the model."""
        if visual is None:
            visual = self.encode_images(images)
        embeds, mask, labels = self.splice(
            visual, batch.input_ids, batch.attention_mask, batch.labels
        )
        base = _base_model(self.lm)
        hidden = base.get_decoder()(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        targets = labels[:, 1:]
        keep = targets != IGNORE
        head = base.get_output_embeddings()
        softcap = getattr(base.config, "final_logit_softcapping", None)
        return answer_loss(head, hidden[:, :-1][keep], targets[keep], softcap)

    @torch.inference_mode()
    def generate(
        self,
        visual: torch.Tensor,
        batch: Batch,
        *,
        max_new_tokens: int = 128,
        eos_token_id: int | None = None,
        pad_token_id: int | None = None,
        temperature: float = 0.0,
        streamer=None,
    ) -> torch.Tensor:
        """New token ids (B, T') for left-padded prompts ending in `ASSISTANT:`; greedy unless a
        temperature is given; `streamer` is a transformers streamer (tokens as they come)."""
        embeds, mask, _ = self.splice(visual, batch.input_ids, batch.attention_mask)
        options = {"do_sample": False}
        if temperature > 0:
            options = {"do_sample": True, "temperature": temperature, "top_p": 0.9}
        return self.lm.generate(
            inputs_embeds=embeds,
            attention_mask=mask,
            max_new_tokens=max_new_tokens,
            eos_token_id=eos_token_id,
            pad_token_id=pad_token_id,
            suppress_tokens=[self.image_token_id],
            streamer=streamer,
            **options,
        )


LOSS_CHUNK = 128  # answer tokens whose logits exist at once


def answer_loss(
    head: nn.Module, hidden: torch.Tensor, targets: torch.Tensor, softcap: float | None
) -> torch.Tensor:
    """Mean cross-entropy of `hidden` (N, D) against `targets` (N,) through the output layer,
    `LOSS_CHUNK` tokens at a time, each chunk's logits recomputed in the backward pass instead
    of kept: with a 262k-token vocabulary, a batch of long answers would otherwise hold
    gigabytes of logits (and their float32 and soft-capped copies) until the backward pass."""
    from torch.utils.checkpoint import checkpoint

    total = hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, hidden.shape[0], LOSS_CHUNK):
        chunk = hidden[start : start + LOSS_CHUNK]
        target = targets[start : start + LOSS_CHUNK]
        if torch.is_grad_enabled() and chunk.requires_grad:
            total = total + checkpoint(_loss_sum, head, chunk, target, softcap, use_reentrant=False)
        else:
            total = total + _loss_sum(head, chunk, target, softcap)
    return total / max(1, hidden.shape[0])


def _loss_sum(
    head: nn.Module, hidden: torch.Tensor, targets: torch.Tensor, softcap
) -> torch.Tensor:
    logits = head(hidden)
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    return F.cross_entropy(logits.float(), targets, reduction="sum")


def _base_model(lm: nn.Module) -> nn.Module:
    """The transformers model under a peft wrapper (LoRA layers stay inside it)."""
    return lm.get_base_model() if hasattr(lm, "get_base_model") else lm


def encode_conversation(
    tokenizer, conversations: list[dict], max_length: int = 512, *, generation_prompt: bool = False
):
    """Token ids and labels of a LLaVA conversation: `USER: ... ASSISTANT: ...` turns, the loss
    on the assistant's words and the end-of-sequence after each answer only. With
    `generation_prompt` the ids end with the assistant's prefix, where its answer starts."""
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
    if generation_prompt:
        prefix = tokenizer(f"{ROLES['gpt']}: ", add_special_tokens=False)["input_ids"]
        ids += prefix
        labels += [IGNORE] * len(prefix)
    return ids[:max_length], labels[:max_length]


def collate(tokenizer, examples: list[tuple[list[int], list[int]]], *, left: bool = False) -> Batch:
    """Padded batch of encoded conversations: right-padded for training, left-padded (`left`)
    for generation so every prompt ends where the answer starts."""
    width = max(len(ids) for ids, _ in examples)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    input_ids = torch.full((len(examples), width), pad, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (ids, target) in enumerate(examples):
        span = slice(width - len(ids), width) if left else slice(0, len(ids))
        input_ids[row, span] = torch.tensor(ids)
        labels[row, span] = torch.tensor(target)
        mask[row, span] = 1
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
    with warnings.catch_warnings():
        # peft reads transformers' deprecated `is_gradient_checkpointing` (a FutureWarning on
        # every chat start); nothing of ours uses it, and chat's stderr should stay clean.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
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
