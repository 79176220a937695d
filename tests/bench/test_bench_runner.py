"""`opendfa bench`: scoring, resuming, and the endpoint answerer against a local server."""

from __future__ import annotations

import json

import pytest

from opendfa.bench.answerers import BenchAnswer, EndpointAnswerer
from opendfa.bench.runner import BenchConfig, run_bench


def _write_split(folder, records):
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for record in records:
        (folder / record["image"]).write_bytes(b"\x89PNG fake bytes")
    (folder / "instruct.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def _record(k, task, label, category, answer):
    return {
        "id": f"s{k}-{task}",
        "image": f"images/s{k}.png",
        "split": "test",
        "label": label,
        "category": category,
        "identity": f"p{k}",
        "task": task,
        "conversations": [
            {"from": "human", "value": "<image>\nIs this face real or fake?"},
            {"from": "gpt", "value": answer},
        ],
    }


@pytest.fixture
def data(tmp_path):
    records = []
    truth = [("fake", "face_swap"), ("fake", "face_editing"), ("real", "real"), ("real", "real")]
    for k, (label, category) in enumerate(truth):
        records.append(_record(k, "DF-D", label, category, label.capitalize() + "."))
        records.append(_record(k, "DF-C", label, category, category.replace("_", " ") + "."))
        if label == "fake":
            records.append(
                _record(k, "AD", label, category, "The mouth is blurrier than the skin.")
            )
    records.append({**_record(9, "DF-D", "real", "real", "Real."), "split": "train"})
    _write_split(tmp_path / "data", records)
    return tmp_path / "data"


class Scripted:
    """Answers from a dict keyed by (image name, task); counts its calls."""

    name = "scripted"

    def __init__(self, answers):
        self.answers, self.calls = answers, 0

    def answer(self, image, question, task):
        self.calls += 1
        text, score = self.answers[(image.name, task)]
        return BenchAnswer(text, score)


ANSWERS = {
    ("s0.png", "DF-D"): ("Fake.", 0.9),
    ("s1.png", "DF-D"): ("It could be real or fake.", 0.6),  # "I cannot tell": inconclusive
    ("s2.png", "DF-D"): ("Real.", 0.2),
    ("s3.png", "DF-D"): ("It is fake.", 0.7),
    ("s0.png", "DF-C"): ("A face swap.", None),
    ("s1.png", "DF-C"): ("Face reenactment.", None),
    ("s2.png", "DF-C"): ("Real.", None),
    ("s3.png", "DF-C"): ("Hmm.", None),
    ("s0.png", "AD"): ("The mouth is blurrier than the skin.", None),
    ("s1.png", "AD"): ("The nose looks odd.", None),
}


def test_scores_follow_the_parsed_answers(data, tmp_path):
    results = run_bench(data, Scripted(ANSWERS), tmp_path / "out")
    d = results["DF-D"]
    # s1 unparseable (a fake counted as missed), s3 a real called fake: APCER 1/2, BPCER 1/2.
    assert (d["apcer"], d["bpcer"], d["acer"], d["accuracy"]) == (0.5, 0.5, 0.5, 0.5)
    assert d["unparseable"] == 1 and d["auc"] == 0.75 and d["scored"] == 4
    c = results["DF-C"]
    assert c["accuracy"] == 0.5 and c["unparseable"] == 1
    assert c["recall"]["face_swap"] == 1.0 and c["recall"]["face_editing"] == 0.0
    a = results["AD"]
    assert 0.5 < a["rouge_l"] < 1.0 and a["bleu1"] > 0.5
    assert results["n"] == {"DF-D": 4, "DF-C": 4, "AD": 2}  # the train record is left out
    table = (tmp_path / "out" / "results.md").read_text()
    assert "| DF-D | 4 | ACER % | 50.00 [" in table and "ROUGE-L" in table


def test_a_rerun_resumes_and_a_cut_line_is_asked_again(data, tmp_path):
    out = tmp_path / "out"
    first = Scripted(ANSWERS)
    run_bench(data, first, out)
    assert first.calls == 10
    lines = (out / "answers.jsonl").read_text().splitlines(keepends=True)
    (out / "answers.jsonl").write_text("".join(lines[:5]) + lines[5][:20])
    second = Scripted(ANSWERS)
    results = run_bench(data, second, out)
    assert second.calls == 5 and sum(results["n"].values()) == 10
    assert len((out / "answers.jsonl").read_text().splitlines()) == 10


def test_limit_and_missing_data(data, tmp_path):
    results = run_bench(data, Scripted(ANSWERS), tmp_path / "o", BenchConfig(limit=1))
    assert results["n"] == {"DF-D": 1, "DF-C": 1, "AD": 1}
    with pytest.raises(FileNotFoundError):
        run_bench(tmp_path / "nowhere", Scripted(ANSWERS), tmp_path / "o2")
    with pytest.raises(ValueError):
        run_bench(data, Scripted(ANSWERS), tmp_path / "o3", BenchConfig(split="val"))


def test_endpoint_answerer_sends_the_image_and_question(llm, data, tmp_path):
    llm.replies = [(200, "Fake. This is a face swap.")]
    answerer = EndpointAnswerer(llm.url, "llava", api_key="k", retries=0)
    reply = answerer.answer(data / "images" / "s0.png", "<image>\nIs it fake?", "DF-D")
    assert reply.text == "Fake. This is a face swap." and reply.score is None
    content = llm.requests[0]["body"]["messages"][0]["content"]
    assert content[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert content[1] == {"type": "text", "text": "Is it fake?"}
    assert answerer.tokens == {"prompt": 7, "completion": 3}
    llm.replies = [(200, "Real.")] * 10
    results = run_bench(
        data, EndpointAnswerer(llm.url, retries=0), tmp_path / "e", BenchConfig(tasks=("DF-D",))
    )
    assert results["DF-D"]["bpcer"] == 0.0 and results["DF-D"]["apcer"] == 1.0
    assert results["DF-D"]["auc"] is None
