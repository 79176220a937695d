"""The SQLite case store: round trips, conversations, deletion, migrations, concurrency."""

from __future__ import annotations

import json
import sqlite3
import threading

import cv2
import numpy as np
import pytest

from opendfa.evidence.report import InputInfo, ModelInfo, Report
from opendfa.store import CaseStore, NewTurn
from opendfa.store.cases import MIGRATIONS, SCHEMA_VERSION


def _report(name: str = "a.jpg", verdict: str = "no_face") -> Report:
    report = Report(
        InputInfo(name, "f" * 64, "image", 8, 6, 1), ModelInfo("m@1", "e" * 64), verdict
    )
    report.preview = np.full((6, 8, 3), 200, np.uint8)
    return report


def test_case_round_trip_keeps_report_hashes_and_preview(tmp_path):
    store = CaseStore(tmp_path)
    case = store.add(_report(), input_name="upload.jpg")
    again = CaseStore(tmp_path).get(case.id)  # a second connection sees the commit
    assert again.input_name == "upload.jpg" and again.input_sha256 == "f" * 64
    assert again.weights_sha256 == "e" * 64 and again.report == _report().to_json()
    report = store.report(case.id)
    assert report.verdict == "no_face" and report.preview.shape == (6, 8, 3)
    assert store.count() == 1 and [c.id for c in store.list()] == [case.id]


def test_turns_are_ordered_and_deleted_with_their_case(tmp_path):
    store = CaseStore(tmp_path)
    case = store.add(_report())
    store.add_turn(case.id, "user", "why?", intent="why")
    store.add_turn(case.id, "assistant", "because", backend="grounded", facts={"p": 0.9})
    turns = store.turns(case.id)
    assert [(t.seq, t.role) for t in turns] == [(0, "user"), (1, "assistant")]
    assert turns[1].facts == {"p": 0.9}
    assert store.delete(case.id) and store.get(case.id) is None and store.turns(case.id) == []
    assert list((tmp_path / "previews").iterdir()) == []
    assert not store.delete(case.id)


def test_previews_are_shared_by_content_and_removed_with_the_last_case(tmp_path):
    store = CaseStore(tmp_path)
    ids = [store.add(_report(f"{k}.jpg")).id for k in range(5)]
    other = _report("other.jpg")
    other.preview = np.full((6, 8, 3), 10, np.uint8)
    other_id = store.add(other).id
    assert len(list((tmp_path / "previews").glob("*.png"))) == 2
    for case_id in ids[:4]:
        assert store.delete(case_id)
    assert store.report(ids[4]).preview.shape == (6, 8, 3)
    assert store.delete(ids[4])
    assert [p.name for p in (tmp_path / "previews").iterdir()] == [
        f"{store.get(other_id).preview_sha256}.png"
    ]


def test_previews_of_schema_2_stores_are_still_shown_and_deleted(tmp_path):
    db = sqlite3.connect(tmp_path / "cases.sqlite3")
    db.executescript(MIGRATIONS[0] + ";" + MIGRATIONS[1] + "; PRAGMA user_version=2;")
    db.execute(
        "INSERT INTO cases (id, created, input_name, kind, verdict, detector, threshold, report)"
        " VALUES (?, 0, 'a.jpg', 'image', 'no_face', 'm@1', 0.5, ?)",
        ("a" * 32, json.dumps(_report().to_json())),
    )
    db.commit()
    db.close()
    (tmp_path / "previews").mkdir()
    cv2.imwrite(str(tmp_path / "previews" / f"{'a' * 32}.png"), np.zeros((4, 5, 3), np.uint8))
    store = CaseStore(tmp_path)
    assert store.version == SCHEMA_VERSION and store.preview("a" * 32).shape == (4, 5, 3)
    assert store.delete("a" * 32) and list((tmp_path / "previews").iterdir()) == []


def test_a_question_and_its_answer_are_never_split(tmp_path):
    store = CaseStore(tmp_path)
    case = store.add(_report())

    def talk(k: int) -> None:
        for j in range(10):
            store.add_turns(
                case.id, [NewTurn("user", f"q{k}.{j}"), NewTurn("assistant", f"a{k}.{j}")]
            )

    threads = [threading.Thread(target=talk, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    turns = store.turns(case.id)
    assert [t.seq for t in turns] == list(range(120))
    assert all(a.text == "a" + q.text[1:] for q, a in zip(turns[::2], turns[1::2], strict=True))


@pytest.mark.parametrize("bad", ["../../etc/passwd", "x" * 32, "", "A" * 32])
def test_malformed_ids_name_no_case(tmp_path, bad):
    store = CaseStore(tmp_path)
    assert store.get(bad) is None and store.preview(bad) is None and not store.delete(bad)


def test_old_databases_are_migrated_and_newer_ones_refused(tmp_path):
    db = sqlite3.connect(tmp_path / "cases.sqlite3")
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version=1;")
    db.close()
    store = CaseStore(tmp_path)
    assert store.version == SCHEMA_VERSION
    assert store.get(store.add(_report()).id).opendfa_version
    store.close()
    db = sqlite3.connect(tmp_path / "cases.sqlite3")
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(RuntimeError, match="newer"):
        CaseStore(tmp_path)


def test_concurrent_writers_lose_nothing(tmp_path):
    store = CaseStore(tmp_path)
    ids: list[str] = []

    def work(k: int) -> None:
        for j in range(10):
            case = store.add(_report(f"{k}-{j}.jpg"))
            store.add_turn(case.id, "user", "q")
            ids.append(case.id)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.count() == 80 == len(set(ids))
    assert all(len(store.turns(i)) == 1 for i in ids)
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
