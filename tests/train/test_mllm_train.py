"""`opendfa train mllm` on a tiny local LM: the loss falls, the tuned model answers from the
image, micro-batches accumulate on the engine, checkpoints resume, and the CLI reports bad
input in one line."""

from __future__ import annotations

import contextlib
import json

import pytest

pytest.importorskip("transformers")
pytest.importorskip("peft")

from opendfa.cli import main
from opendfa.explain.assistant import Assistant
from opendfa.instruct.records import InstructRecord
from opendfa.models import dfagpt
from opendfa.train.mllm import MLLMTrainConfig, train_mllm


def _config(data, out, lm, **changes) -> MLLMTrainConfig:
    settings = dict(
        data=str(data),
        out=str(out),
        lm=str(lm),
        tasks=("DF-D", "DF-C"),
        epochs=8.0,
        batch_size=4,
        grad_accum=1,
        lr=3e-3,
        projector_lr=3e-3,
        lora_r=8,
        lora_alpha=16,
        lora_dropout=0.0,
        val_records=8,
        save_every=10,
    )
    settings.update(changes)
    return MLLMTrainConfig(**settings)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, toy_instruct_dir, tiny_lm_dir):
    out = tmp_path_factory.mktemp("dfa-gpt")
    summary = train_mllm(
        _config(toy_instruct_dir, out, tiny_lm_dir), progress=False, log=lambda m: None
    )
    return out, summary


@pytest.mark.slow
def test_loss_falls_and_answers_follow_the_image(trained, toy_instruct_dir):
    out, summary = trained
    losses = [json.loads(line)["loss"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert summary["steps"] == len(losses) == 64  # 32 conversations x 8 epochs / 4
    assert sum(losses[-5:]) / 5 < 0.3 * sum(losses[:5]) / 5
    # Validation faces were never trained on: bright ones must be called fake, dark ones real.
    assert summary["validation"]["DF-D_accuracy"] == 1.0
    vocabulary = dfagpt.read_vocabulary(out)  # what it may say at inference
    loaded_tokenizer = dfagpt.load(out).tokenizer
    assert loaded_tokenizer.eos_token_id in vocabulary
    assert set(loaded_tokenizer("Fake .", add_special_tokens=False)["input_ids"]) <= set(vocabulary)
    loaded = dfagpt.load(out)
    assistant = Assistant(loaded)
    bright = dfagpt.read_crop(toy_instruct_dir / "images" / "test-0.png")
    dark = dfagpt.read_crop(toy_instruct_dir / "images" / "test-1.png")
    question = "Is this face real or fake ?"
    assert assistant.ask(bright, question).lower().startswith("fake")
    assert assistant.ask(dark, question).lower().startswith("real")


@pytest.mark.slow
def test_the_folder_holds_only_projector_adapters_and_config(trained):
    out, _ = trained
    config = json.loads((out / "config.json").read_text())
    assert config["format"] == dfagpt.FORMAT and config["lora"]["r"] == 8
    assert config["info"]["training"]["tasks"] == {"DF-D": 16, "DF-C": 16}
    from safetensors import safe_open

    with safe_open(str(out / "trainable.safetensors"), "pt") as weights:
        names = list(weights.keys())
    assert names and all(n.startswith("projector.") or "lora_" in n for n in names)


@pytest.mark.slow
def test_resume_continues_and_a_changed_run_is_refused(tmp_path, toy_instruct_dir, tiny_lm_dir):
    config = _config(toy_instruct_dir, tmp_path, tiny_lm_dir, epochs=2.0, save_every=4)
    train_mllm(config, progress=False, log=lambda m: None)
    steps = len((tmp_path / "log.jsonl").read_text().splitlines())
    messages: list[str] = []
    train_mllm(config, progress=False, log=messages.append)  # nothing left to do
    assert any("resuming at step 16" in m for m in messages)
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == steps
    with pytest.raises(ValueError, match="different run"):
        train_mllm(_config(toy_instruct_dir, tmp_path, tiny_lm_dir, epochs=3.0), progress=False)


@pytest.mark.slow
def test_cli_trains_and_bench_answers_with_the_model(
    tmp_path, toy_instruct_dir, tiny_lm_dir, capsys
):
    model = tmp_path / "model"
    args = ["train", "mllm", "--data", str(toy_instruct_dir), "--out", str(model)]
    args += ["--lm", str(tiny_lm_dir), "--tasks", "DF-D", "--epochs", "12", "--grad-accum", "1"]
    args += ["--lora-r", "8", "--lora-alpha", "16", "--lr", "3e-3", "--projector-lr", "3e-3"]
    assert main([*args, "--no-progress"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["steps"] == 48 and "DF-D_accuracy" in printed["validation"]
    bench = ["bench", "--data", str(toy_instruct_dir), "--answerer", "dfa-gpt"]
    bench += ["--mllm", str(model), "--tasks", "DF-D", "--out", str(tmp_path / "bench")]
    assert main([*bench, "--no-progress"]) == 0
    results = json.loads((tmp_path / "bench" / "results.json").read_text())
    assert results["answerer"] == "dfa-gpt" and results["n"] == {"DF-D": 4}
    assert results["DF-D"]["accuracy"] == 1.0


@pytest.mark.slow
def test_micro_batches_accumulate_on_the_engine_and_sync_once_per_step(
    tmp_path, toy_instruct_dir, tiny_lm_dir, monkeypatch
):
    from opendfa.train.loop import Engine

    syncs: list[bool] = []
    accumulate = Engine.accumulate

    @contextlib.contextmanager
    def watched(self, model):
        with accumulate(self, model):
            syncs.append(self.sync_gradients)
            yield

    monkeypatch.setattr(Engine, "accumulate", watched)
    config = _config(toy_instruct_dir, tmp_path, tiny_lm_dir, epochs=1.0, grad_accum=2)
    summary = train_mllm(config, progress=False, log=lambda m: None)
    assert summary["steps"] == 4 and summary["per_step"] == 8  # 32 conversations
    # Under DDP the processes exchange gradients only where True: once per optimizer step.
    assert syncs == [False, True] * 4


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--data", "/nonexistent"], "no train.json"),
        (["--lm", "/nonexistent-lm"], "no language model"),
        (["--tasks", "XX"], "unknown tasks"),
    ],
)
def test_cli_errors_are_one_line(extra, message, tmp_path, toy_instruct_dir, tiny_lm_dir, capsys):
    args = ["train", "mllm", "--data", str(toy_instruct_dir), "--out", str(tmp_path / "m")]
    args += ["--lm", str(tiny_lm_dir), "--no-progress"]
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_balance_evens_the_answer_classes_per_task():
    from opendfa.train.mllm import balance_answers

    def rec(task, label, category, image):
        return InstructRecord(image, image, task, [], label=label, category=category)

    records = [rec("DF-D", "fake", "face_swap", f"f{i}") for i in range(10)]
    records += [rec("DF-D", "real", "real", f"r{i}") for i in range(2)]
    records += [rec("DF-C", "fake", "face_swap", f"s{i}") for i in range(6)]
    records += [rec("DF-C", "fake", "face_editing", f"e{i}") for i in range(3)]
    records += [rec("DF-C", "real", "real", "r0")]
    records += [InstructRecord("fc", "no-label", "FC", [])]
    balanced = balance_answers(records, seed=0)
    detection = [r for r in balanced if r.task == "DF-D"]
    assert sum(r.label == "real" for r in detection) == 10
    assert sum(r.label == "fake" for r in detection) == 10
    assert {r.image for r in detection if r.label == "real"} == {"r0", "r1"}
    # DF-C by category: real is one class of three here, not half of everything.
    kinds = [r.category for r in balanced if r.task == "DF-C"]
    assert kinds.count("real") == kinds.count("face_editing") == kinds.count("face_swap") == 6
    assert any(r.image == "no-label" for r in balanced)
    assert balanced != balance_answers(records, seed=1)  # the order is seeded


@pytest.mark.slow
def test_the_vision_cache_is_filled_once_then_reused_and_a_torn_file_recomputed(
    tmp_path, toy_instruct_dir, tiny_lm_dir, monkeypatch
):
    import shutil

    import opendfa.evidence.judge as judge_module
    from opendfa.train.mllm import Trainer

    data = shutil.copytree(toy_instruct_dir, tmp_path / "data")
    config = _config(data, tmp_path / "a", tiny_lm_dir, epochs=0.5, evidence=True)
    first = Trainer(config, progress=False, log=lambda m: None)
    first.run()
    files = sorted((data / "vision-cache").rglob("*.safetensors"))
    assert len(files) == len(first.features) > 0

    def no_encoder(*args, **kwargs):
        raise AssertionError("the detector ran although every image was cached")

    monkeypatch.setattr(judge_module, "predict_crops", no_encoder)
    config.out = str(tmp_path / "b")
    second = Trainer(config, progress=False, log=lambda m: None)
    second.run()
    assert second.evidence == first.evidence
    assert all((second.features[n] == first.features[n]).all() for n in first.features)

    monkeypatch.undo()
    files[0].write_bytes(b"torn")
    config.out = str(tmp_path / "c")
    third = Trainer(config, progress=False, log=lambda m: None)
    third.run()
    assert third.evidence == first.evidence
    assert files[0].stat().st_size > 100  # written again


@pytest.mark.slow
def test_init_starts_from_an_earlier_model_and_refuses_another_shape(
    trained, tmp_path, toy_instruct_dir, tiny_lm_dir
):
    from safetensors.torch import load_file

    earlier, _ = trained
    still = _config(toy_instruct_dir, tmp_path / "b", tiny_lm_dir, init=str(earlier), epochs=0.125)
    still.lr = still.projector_lr = 0.0  # one step that changes nothing: the start is kept
    summary = train_mllm(still, progress=False, log=lambda m: None)
    assert summary["steps"] == 1 and summary["validation"]["DF-D_accuracy"] == 1.0
    before = load_file(str(earlier / dfagpt.WEIGHTS_FILE))
    after = load_file(str(tmp_path / "b" / dfagpt.WEIGHTS_FILE))
    assert before.keys() == after.keys()
    assert all(bool((before[k] == after[k]).all()) for k in before)
    other = _config(toy_instruct_dir, tmp_path / "c", tiny_lm_dir, init=str(earlier), lora_r=4)
    with pytest.raises(ValueError, match="LoRA shape"):
        train_mllm(other, progress=False, log=lambda m: None)
    with pytest.raises(FileNotFoundError, match="no trainable"):
        train_mllm(
            _config(toy_instruct_dir, tmp_path / "d", tiny_lm_dir, init=str(tmp_path)),
            progress=False,
        )


@pytest.mark.slow
def test_evidence_version_2_reads_the_builder_s_lines_and_refuses_another_detector(
    tmp_path, toy_instruct_dir, tiny_lm_dir
):
    import shutil

    from opendfa.instruct.evidence import EVIDENCE_FILE, EVIDENCE_META
    from opendfa.models.detector import load_detector
    from opendfa.train.mllm import Trainer

    data = shutil.copytree(toy_instruct_dir, tmp_path / "data")
    images = sorted({json.loads(line)["image"] for line in (data / "instruct.jsonl").open()})
    lines = {
        image: f"Detector evidence: verdict fake, number {k}." for k, image in enumerate(images)
    }
    rows = [json.dumps({"image": image, "line": line}) for image, line in lines.items()]
    (data / EVIDENCE_FILE).write_text("\n".join(rows) + "\n")
    bundled = load_detector().name  # the trainer's default detector, as name@version
    (data / EVIDENCE_META).write_text(json.dumps({"detector": bundled, "version": 2}))
    config = _config(
        data, tmp_path / "a", tiny_lm_dir, epochs=0.5, evidence=True, evidence_version=2
    )
    trainer = Trainer(config, progress=False, log=lambda m: None)
    trainer.run()
    assert trainer.evidence == {image: lines[image] for image in trainer.features}
    saved = json.loads((tmp_path / "a" / dfagpt.CONFIG_FILE).read_text())
    assert saved["evidence_version"] == 2

    (data / EVIDENCE_META).write_text(json.dumps({"detector": "someone-else@1", "version": 2}))
    config.out = str(tmp_path / "b")
    with pytest.raises(ValueError, match="someone-else@1"):
        Trainer(config, progress=False, log=lambda m: None).run()
