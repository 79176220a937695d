"""DFA-GPT speed on this machine: generation tokens/s (LoRA merged; float32, bfloat16 and int8
weights) at batch 1 and 8, and training samples/s for short (DF-D) and long (AD) conversations.

    python benchmarks/dfa_gpt_speed.py --model src/opendfa/assets/models/dfa-gpt

Writes the `dfa-gpt` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch
from results_section import write_section

from opendfa.explain.assistant import Assistant
from opendfa.instruct.records import read_records
from opendfa.models import dfagpt
from opendfa.models.mllm import collate, encode_conversation

QUESTION = "Describe the artifacts that expose this forgery."


def generation_speed(
    folder: Path, crops: list[np.ndarray], *, weights: str, batch: int, full_vocabulary: bool
) -> dict:
    # `weights`: float32, bfloat16 or int8
    loaded = dfagpt.load_for_inference(folder, weights=weights, full_vocabulary=full_vocabulary)
    assistant = Assistant(loaded)
    model, tokenizer = loaded.model, loaded.tokenizer
    prompts = [assistant.prompt(QUESTION) for _ in range(batch)]
    visual = assistant.visual(crops[:batch])
    new_tokens = 48
    assistant.answer_many(crops[:batch], [QUESTION] * batch, max_new_tokens=4)  # warm up
    started = time.perf_counter()
    with torch.inference_mode():
        embeds, mask, _ = model.splice(visual, *_ids(collate(tokenizer, prompts, left=True)))
        out = model.lm.generate(
            inputs_embeds=embeds,
            attention_mask=mask,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,  # a fixed length, so the rate is comparable
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    seconds = time.perf_counter() - started
    return {
        "weights": weights,
        "vocabulary": "full" if full_vocabulary else "answers",
        "batch": batch,
        "tokens_per_s": round(out.shape[0] * out.shape[1] / seconds, 1),
        "per_sequence_tokens_per_s": round(out.shape[1] / seconds, 1),
    }


def chat_speed(folder: Path, crops: list[np.ndarray], *, weights: str) -> dict:
    """What `opendfa chat` runs: one AD answer at a time through grounded decoding (the
    detector's own evidence on each crop as the report, a description of a fake held open),
    until the model stops; the rate counts the tokens of the final answers over the whole
    time, back-offs included."""
    from opendfa.evidence.judge import judge_crop
    from opendfa.explain.decoding import GroundedReview

    loaded = dfagpt.load_for_inference(folder, weights=weights)
    assistant = Assistant(loaded)
    assistant.ask(crops[0], QUESTION, max_new_tokens=4)  # warm up
    tokens = rollbacks = 0
    seconds = 0.0
    for crop in crops:
        judged = judge_crop(loaded.detector, crop)
        review = GroundedReview(
            judged.verdict,
            judged.forgery_type.label if judged.is_fake else None,
            judged.prediction.region_scores,
            question=QUESTION,
        )
        started = time.perf_counter()
        text = assistant.ask(
            crop, QUESTION, max_new_tokens=160, min_new_tokens=review.min_tokens, review=review
        )
        seconds += time.perf_counter() - started
        tokens += len(loaded.tokenizer(text, add_special_tokens=False)["input_ids"])
        rollbacks += assistant.last_rollbacks
    return {
        "weights": weights,
        "answers": len(crops),
        "tokens_per_s": round(tokens / seconds, 1),
        "seconds_per_answer": round(seconds / len(crops), 2),
        "back_offs": rollbacks,
    }


def training_speed(
    folder: Path, crops: list[np.ndarray], conversations: dict[str, list[dict]], steps: int = 3
) -> dict:
    loaded = dfagpt.load(folder)
    model, tokenizer = loaded.model, loaded.tokenizer
    images = torch.stack([dfagpt.image_tensor(c, loaded.image_size) for c in crops[:4]])
    with torch.inference_mode():
        visual = model.encode_images(images).clone()
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-6)
    rates = {}
    for task, turns in conversations.items():
        batch = collate(tokenizer, [encode_conversation(tokenizer, turns)] * 4)
        model(None, batch, visual=visual).backward()  # warm up
        started = time.perf_counter()
        for _ in range(steps):
            optimizer.zero_grad()
            model(None, batch, visual=visual).backward()
            optimizer.step()
        seconds = time.perf_counter() - started
        rates[task] = {
            "tokens": int(batch.input_ids.shape[1]) + visual.shape[1] - 1,
            "image_tokens": int(visual.shape[1]),
            "samples_per_s": round(4 * steps / seconds, 2),
        }
    return rates


def _ids(batch):
    return batch.input_ids, batch.attention_mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="a DFA-GPT folder")
    parser.add_argument("--data", default=".cache/instruct-v2")
    parser.add_argument("--results", default="benchmarks/RESULTS.md")
    parser.add_argument("--note", default="", help="a paragraph written under the tables")
    args = parser.parse_args()
    folder = Path(args.model)
    records = list(read_records(Path(args.data) / "test.json"))
    images = sorted({r.image for r in records})[:8]
    crops = [dfagpt.read_crop(Path(args.data) / name) for name in images]
    by_task = {r.task: r.conversations for r in records if r.task in ("DF-D", "AD")}
    rows = []
    for weights, full in (
        ("float32", True),
        ("float32", False),
        ("bfloat16", False),
        ("int8", False),
    ):
        for batch in (1, 8):
            rows.append(
                generation_speed(folder, crops, weights=weights, batch=batch, full_vocabulary=full)
            )
            print(rows[-1], flush=True)
    chat = [chat_speed(folder, crops, weights=weights) for weights in ("float32", "bfloat16")]
    print(chat, flush=True)
    training = training_speed(folder, crops, by_task)
    print(training, flush=True)
    lines = [
        "## DFA-GPT speed (benchmarks/dfa_gpt_speed.py)",
        "",
        f"Machine: {platform.machine()} CPU, {torch.get_num_threads()} threads, torch "
        f"{torch.__version__}; {time.strftime('%Y-%m-%d')}. `python benchmarks/dfa_gpt_speed.py "
        f"--model {args.model}` (Gemma-3-270M + LoRA + projector; "
        f"{training['DF-D']['image_tokens']} image tokens).",
        "",
        "| weights | output vocabulary | batch | tokens/s (all sequences) | tokens/s per sequence "
        "|",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['weights']} | {row['vocabulary']} | {row['batch']} | {row['tokens_per_s']} | "
            f"{row['per_sequence_tokens_per_s']} |"
        )
    lines += [
        "",
        "As `opendfa chat` answers (batch 1, AD question, grounded decoding, answer vocabulary; "
        "chat uses bfloat16 where the CPU has AVX512-BF16 or AMX, else float32):",
        "",
        "| weights | answers | tokens/s | s per answer | back-offs |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in chat:
        lines.append(
            f"| {row['weights']} | {row['answers']} | {row['tokens_per_s']} | "
            f"{row['seconds_per_answer']} | {row['back_offs']} |"
        )
    lines += ["", "| training (batch 4, LoRA + projector) | tokens per sample | samples/s |"]
    lines += ["| --- | --- | --- |"]
    for task, rate in training.items():
        lines.append(f"| {task} conversation | {rate['tokens']} | {rate['samples_per_s']} |")
    if args.note:
        lines += ["", args.note]
    write_section(Path(args.results), "dfa-gpt", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
