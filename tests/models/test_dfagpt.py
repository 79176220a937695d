"""DFA-GPT model folders and asking: round trip, prompts with history, evidence lines,
streaming, on a tiny local LM (the "any local Hugging Face model" path)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

from opendfa.evidence.words import detector_line
from opendfa.explain.assistant import Assistant, Exchange
from opendfa.models import dfagpt
from opendfa.models.mllm import IMAGE_TOKEN
from tiny_models import tiny_dfagpt_config


@pytest.fixture(scope="module")
def loaded(random_dfagpt):
    return random_dfagpt(1)


def _crops(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (96, 96, 3), dtype=np.uint8) for _ in range(n)]


def test_a_saved_folder_loads_to_the_same_answers(loaded, tmp_path):
    folder = dfagpt.save(loaded, tmp_path / "m")
    again = dfagpt.load(folder)
    crops = _crops(3)
    questions = ["Is this face real or fake ?"] * 3
    before = Assistant(loaded).answer_many(crops, questions, max_new_tokens=6)
    after = Assistant(again).answer_many(crops, questions, max_new_tokens=6)
    assert before == after and any(before)
    config = json.loads((folder / dfagpt.CONFIG_FILE).read_text())
    assert config["format"] == dfagpt.FORMAT and config["lora"]["r"] == 4


def test_loading_reports_what_is_missing_or_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="opendfa train mllm"):
        dfagpt.load(tmp_path)
    with pytest.raises(ValueError, match="not a DFA-GPT config"):
        dfagpt.DFAGPTConfig.from_json({"format": "something-else"})


def test_batched_answers_match_one_by_one(loaded):
    assistant = Assistant(loaded)
    crops = _crops(3)
    questions = ["Is this face real or fake ?", "Describe the artifacts .", "What kind ?"]
    batched = assistant.answer_many(crops, questions, max_new_tokens=5)
    single = [assistant.ask(c, q, max_new_tokens=5) for c, q in zip(crops, questions, strict=True)]
    assert batched == single


def test_streamed_pieces_make_the_answer(loaded):
    pieces: list[str] = []
    text = Assistant(loaded).ask(
        _crops(1)[0], "Is this face real or fake ?", max_new_tokens=8, on_text=pieces.append
    )
    assert len(pieces) >= 1 and "".join(pieces).strip() == text


def test_prompt_keeps_the_image_and_drops_the_oldest_exchanges(loaded):
    assistant = Assistant(loaded)
    tokenizer = assistant.tokenizer
    image_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    oldest = Exchange("Is this face real or fake ?", "Nothing looks edited .")
    middle = [Exchange("Is this face real or fake ?", "Fake .")] * 30
    newest = Exchange("What kind of forgery is this ?", "The face was swapped .")
    loaded.config.max_length = 80
    try:
        ids, labels = assistant.prompt("Describe the artifacts .", [oldest, *middle, newest])
        assert len(ids) <= 80 and ids.count(image_id) == 1 and labels[-1] == -100
        text = tokenizer.decode(ids)
        assert "Nothing" not in text and "swapped" in text
        assert text.index("<image>") < text.index("swapped") < text.index("Describe")
        assert text.rstrip().endswith("ASSISTANT :")
        with pytest.raises(ValueError, match="too long"):
            assistant.prompt("real " * 200, [])  # nothing to drop
    finally:
        loaded.config.max_length = 448


def test_evidence_line_names_what_the_detector_saw():
    text = detector_line(
        0.934,
        {"real": 0.05, "face_swap": 0.81, "face_editing": 0.1},
        {"mouth": 0.9, "nose": 0.72, "forehead": 0.3},
        threshold=0.5,
    )
    assert "verdict fake, fake probability 0.93" in text and "face swap (0.81)" in text
    assert "regions above 0.5: mouth, nose." in text and "forehead" not in text
    low = detector_line(0.1, {"face_swap": 0.2}, {"mouth": 0.1})
    assert "verdict real" in low and "regions above 0.5: none" in low
    assert dfagpt.first_question(f"{IMAGE_TOKEN}\nWhy?", text) == f"{IMAGE_TOKEN}\n{text}\nWhy?"


def test_int8_weights_keep_the_layer_outputs_and_the_greedy_answers(tiny_lm_dir, tiny_model):
    """Weight-only int8 (one scale per output row): layer outputs within the rounding of the
    weights, and the tiny model's greedy answers unchanged (PyTorch's dynamic int8, which also
    quantizes activations, changed Gemma-3's answers into noise)."""
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 48)
    x = torch.randn(5, 64) * 10
    quantized = dfagpt.Int8WeightLinear(linear)
    assert quantized.weight_int8.dtype == torch.int8
    exact = linear(x)
    error = (quantized(x) - exact).abs().max()
    assert error < 0.01 * exact.abs().max()

    config = tiny_dfagpt_config(tiny_lm_dir, tiny_model)
    torch.manual_seed(0)
    reference = dfagpt.merge_for_inference(dfagpt.build(config))
    torch.manual_seed(0)
    small = dfagpt.quantize_for_cpu(dfagpt.build(config))
    assert not any(isinstance(m, torch.nn.Linear) for m in small.model.lm.modules())
    crops = _crops(3)
    questions = ["Is this face real or fake ?", "Describe the artifacts .", "What kind ?"]
    expected = Assistant(reference).answer_many(crops, questions, max_new_tokens=6)
    assert Assistant(small).answer_many(crops, questions, max_new_tokens=6) == expected


def test_bfloat16_answers_match_float32_on_a_tiny_model(tiny_lm_dir, tiny_model):
    """Chat decodes in bfloat16 where the CPU has it (twice the tokens/s): the LM and the
    projector change precision, the vision encoder does not, and the greedy answers hold."""
    config = tiny_dfagpt_config(tiny_lm_dir, tiny_model)
    torch.manual_seed(0)
    exact = dfagpt.merge_for_inference(dfagpt.build(config))
    torch.manual_seed(0)
    half = dfagpt.merge_for_inference(dfagpt.build(config), dtype="bfloat16")
    assert {p.dtype for p in half.model.lm.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in half.model.projector.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in half.model.vision.parameters()} == {torch.float32}
    crops = _crops(3)
    questions = ["Is this face real or fake ?", "Describe the artifacts .", "What kind ?"]
    expected = Assistant(exact).answer_many(crops, questions, max_new_tokens=6)
    assert Assistant(half).answer_many(crops, questions, max_new_tokens=6) == expected
    assert Assistant(half).ask(crops[1], questions[1], max_new_tokens=6) == expected[1]


def test_an_answer_vocabulary_keeps_the_greedy_answers(tiny_lm_dir, tiny_model, tmp_path):
    """The output layer cut to the tokens of the training answers: same greedy answers when
    they lie in it, and tokens outside it are never generated."""
    config = tiny_dfagpt_config(tiny_lm_dir, tiny_model)
    torch.manual_seed(0)
    folder = dfagpt.save(dfagpt.build(config), tmp_path / "m")
    crops = _crops(2)
    questions = ["Is this face real or fake ?", "Describe the artifacts ."]
    full = Assistant(dfagpt.merge_for_inference(dfagpt.load(folder)))
    expected = full.answer_many(crops, questions, max_new_tokens=6)
    tokenizer = full.tokenizer
    said = {i for text in expected for i in tokenizer(text, add_special_tokens=False)["input_ids"]}
    dfagpt.save_vocabulary(folder, sorted(said | set(tokenizer.all_special_ids)))
    cut = Assistant(dfagpt.merge_for_inference(dfagpt.load(folder)))
    assert cut.answer_many(crops, questions, max_new_tokens=6) == expected
    narrow = sorted(set(tokenizer.all_special_ids) | {tokenizer.convert_tokens_to_ids("Fake")})
    dfagpt.save_vocabulary(folder, narrow)
    only = Assistant(dfagpt.merge_for_inference(dfagpt.load(folder)))
    for answer in only.answer_many(crops, questions, max_new_tokens=6):
        assert set(answer.split()) <= {"Fake"}


def test_a_saved_folder_records_its_weights_sha256_and_refuses_other_weights(loaded, tmp_path):
    folder = dfagpt.save(loaded, tmp_path / "m")
    config = json.loads((folder / dfagpt.CONFIG_FILE).read_text())
    weights = folder / dfagpt.WEIGHTS_FILE
    assert config["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="do not match the sha256"):
        dfagpt.load(folder)


def test_a_folder_without_a_recorded_sha256_still_loads(loaded, tmp_path):
    """Folders saved before the sha256 was recorded (the bundled one) load unchecked."""
    folder = dfagpt.save(loaded, tmp_path / "m")
    config = json.loads((folder / dfagpt.CONFIG_FILE).read_text())
    del config["weights_sha256"]
    (folder / dfagpt.CONFIG_FILE).write_text(json.dumps(config))
    assert dfagpt.load(folder).folder == folder


def test_load_for_inference_merges_into_the_asked_weights(tiny_dfagpt_dir):
    half = dfagpt.load_for_inference(tiny_dfagpt_dir, weights="bfloat16")
    assert {p.dtype for p in half.model.lm.parameters()} == {torch.bfloat16}
    assert not any("lora_" in name for name, _ in half.model.lm.named_parameters())
    small = dfagpt.load_for_inference(tiny_dfagpt_dir, weights=dfagpt.INT8)
    assert not any(isinstance(m, torch.nn.Linear) for m in small.model.lm.modules())


def test_evidence_line_2_words_each_region_s_measured_cue_and_the_margin_band():
    categories = {"real": 0.05, "face_swap": 0.81, "face_editing": 0.1}
    scores = {"mouth": 0.9, "nose": 0.72, "left_eye": 0.6, "forehead": 0.3}
    cues = {
        "mouth": {"blur_ratio": 2.0, "illumination_mismatch": -2.0},  # blur is the stronger
        "nose": {"illumination_mismatch": -9.0, "noise_residual_ratio": 0.8},
        "left_eye": {"blur_ratio": 1.1},  # too weak to be worded
        "forehead": {"blur_ratio": 3.0},  # not a supported region: not shown
    }
    text = detector_line(
        0.934,
        categories,
        scores,
        0.5,
        version=2,
        region_cues=cues,
        area_cues={"noise_residual_ratio": 0.5},
    )
    assert "margin high;" in text and "face swap (0.81)" in text
    assert "regions above 0.5: mouth (blurrier), nose (darker), left eye;" in text
    assert "forehead" not in text and "suspected area as a whole: smoother." in text
    # The band follows the margin as the claim checker reads it (0.30 high, 0.15 moderate).
    assert "margin moderate;" in detector_line(0.70, categories, scores, 0.5, version=2)
    assert "margin low;" in detector_line(0.45, categories, scores, 0.5, version=2)
    # A soft mask edge has no word, so no claim; version 1 is unchanged.
    soft = detector_line(
        0.9,
        categories,
        {"mouth": 0.9},
        version=2,
        region_cues={"mouth": {"edge_discontinuity": 0.3}},
    )
    assert "regions above 0.5: mouth." in soft
    assert "margin" not in detector_line(0.9, categories, scores, region_cues=cues)
    with pytest.raises(ValueError, match="version"):
        detector_line(0.9, categories, scores, version=3)


def test_a_model_folder_without_an_evidence_version_reads_the_first_line():
    config = dfagpt.DFAGPTConfig.from_json({"format": dfagpt.FORMAT, "evidence": True})
    assert config.evidence_version == 1
    again = dfagpt.DFAGPTConfig.from_json(dfagpt.DFAGPTConfig(evidence_version=2).to_json())
    assert again.evidence_version == 2
