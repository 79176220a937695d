"""`opendfa bench` record selection: seeded stratified samples per task, and `limit` as before."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from opendfa.bench.runner import BenchConfig, _records
from opendfa.bench.select import allocate
from opendfa.cli import main

# 30 reals and 70 fakes (40 swaps, 20 edits, 10 reenactments) on the test split.
TRUTH = [("real", "real")] * 30 + [("fake", "face_swap")] * 40
TRUTH += [("fake", "face_editing")] * 20 + [("fake", "face_reenactment")] * 10


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("select")
    rows = []
    for k, (label, category) in enumerate(TRUTH):
        for task in ("DF-D", "DF-C") + (("AD",) if label == "fake" else ()):
            rows.append(
                {
                    "id": f"s{k}-{task}",
                    "image": f"images/s{k}.png",
                    "split": "test",
                    "label": label,
                    "category": category,
                    "task": task,
                    "conversations": [
                        {"from": "human", "value": "<image>\nReal or fake?"},
                        {"from": "gpt", "value": label},
                    ],
                }
            )
    (folder / "instruct.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def _counts(records, task):
    return Counter(r.category for r in records if r.task == task)


def test_caps_take_every_real_and_a_stratified_share_of_fakes(data):
    config = BenchConfig(reals=100, fakes=35, task_fakes={"AD": 14})
    records = _records(data, config)
    assert _counts(records, "DF-D") == {
        "real": 30,  # all of them: the cap is above what there is
        "face_swap": 20,
        "face_editing": 10,
        "face_reenactment": 5,
    }
    assert _counts(records, "AD") == {"face_swap": 8, "face_editing": 4, "face_reenactment": 2}
    # DF-D and DF-C ask about the same images; file order is kept.
    images = {t: [r.image for r in records if r.task == t] for t in ("DF-D", "DF-C")}
    assert images["DF-D"] == images["DF-C"]
    positions = [int(r.id.split("-")[0][1:]) for r in records if r.task == "DF-D"]
    assert positions == sorted(positions)


def test_the_sample_is_seeded(data):
    def ids(seed):
        return [r.id for r in _records(data, BenchConfig(reals=10, fakes=10, seed=seed))]

    assert ids(0) == ids(0)
    assert ids(0) != ids(1)
    assert len(ids(1)) == 3 * 10 + 2 * 10  # DF-D, DF-C: 10 + 10; AD: 10 fakes


def test_limit_still_takes_the_first_records_of_uncapped_tasks(data):
    records = _records(data, BenchConfig(limit=5, task_fakes={"AD": 3}))
    assert [r.id for r in records if r.task == "DF-D"] == [f"s{k}-DF-D" for k in range(5)]
    assert len([r for r in records if r.task == "AD"]) == 3


def test_allocation_is_proportional_and_exact():
    assert allocate({"a": 40, "b": 20, "c": 10}, 35) == {"a": 20, "b": 10, "c": 5}
    assert sum(allocate({"a": 7, "b": 5, "c": 1}, 6).values()) == 6
    assert allocate({"a": 3}, None) == {"a": 3}
    with pytest.raises(ValueError):
        allocate({"a": 3}, -1)


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--fakes", "AD=x"], "N or TASK=N"), (["--reals", "FC=3"], "FC is not asked")],
)
def test_cli_rejects_bad_caps_in_one_line(data, tmp_path, capsys, flags, message):
    code = main(["bench", "--data", str(data), "--out", str(tmp_path / "o"), *flags])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
