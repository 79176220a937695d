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
from opendfa.store.cases import (
    MIGRATIONS,
    PREVIEW_MAX_SIDE,
    SCHEMA_VERSION,
    StoreFull,
    display_name,
)


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
    assert len(list((tmp_path / "previews").glob("*.jpg"))) == 2
    for case_id in ids[:4]:
        assert store.delete(case_id)
    assert store.report(ids[4]).preview.shape == (6, 8, 3)
    assert store.delete(ids[4])
    assert [p.name for p in (tmp_path / "previews").iterdir()] == [
        f"{store.get(other_id).preview_sha256}.jpg"
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


def _noisy_report(width: int, height: int) -> Report:
    report = _report()
    report.input.width, report.input.height = width, height
    report.preview = np.random.default_rng(0).integers(0, 256, (height, width, 3), np.uint8)
    return report


def test_previews_are_stored_small_and_read_back_at_their_size(tmp_path):
    """A noisy 2400x1800 picture: stored as a JPEG of at most 1600 px (a PNG of it is 13 MB),
    read back at 2400x1800, the size its report's boxes refer to."""
    store = CaseStore(tmp_path)
    case = store.add(_noisy_report(2400, 1800))
    (stored,) = (tmp_path / "previews").iterdir()
    picture = cv2.imread(str(stored))
    assert stored.suffix == ".jpg" and max(picture.shape[:2]) == PREVIEW_MAX_SIDE
    assert stored.stat().st_size < 2_500_000
    assert store.preview(case.id).shape == (1800, 2400, 3)


def test_shared_png_previews_of_schema_3_stores_are_still_shown(tmp_path):
    store = CaseStore(tmp_path)
    case = store.add(_report())
    digest = store.get(case.id).preview_sha256
    (tmp_path / "previews" / f"{digest}.jpg").unlink()
    cv2.imwrite(str(tmp_path / "previews" / f"{digest}.png"), np.zeros((6, 8, 3), np.uint8))
    store._db.execute("UPDATE cases SET preview_width = NULL, preview_height = NULL")
    assert store.preview(case.id).shape == (6, 8, 3)
    assert store.delete(case.id) and list((tmp_path / "previews").iterdir()) == []


def test_quota_refuses_a_case_that_does_not_fit_and_stores_nothing(tmp_path):
    store = CaseStore(tmp_path)
    store.add(_report())
    store.max_bytes = store.usage() + 1000  # room for a report, not for a noisy picture
    with pytest.raises(StoreFull, match="full"):
        store.add(_noisy_report(800, 600))
    assert store.count() == 1 and len(list((tmp_path / "previews").iterdir())) == 1
    store.add(_report())  # a small one still fits (its preview is shared)
    assert store.count() == 2


def test_usage_counts_previews_and_drops_with_deletes(tmp_path):
    store = CaseStore(tmp_path)
    empty = store.usage()
    case = store.add(_noisy_report(400, 300))
    grown = store.usage()
    assert grown > empty + 50_000
    assert CaseStore(tmp_path).usage() == grown  # counted again on open
    store.delete(case.id)
    assert store.usage() < grown - 50_000


def test_expire_deletes_the_oldest_cases_first(tmp_path):
    store = CaseStore(tmp_path)
    ids = [store.add(_report(f"{k}.jpg")).id for k in range(4)]
    for age, case_id in zip((40, 30, 20, 0), ids, strict=True):
        store._db.execute("UPDATE cases SET created = ? WHERE id = ?", (1000 - age, case_id))
    assert store.expire(before=985, limit=1) == [ids[0]]
    assert store.expire(before=985) == [ids[1], ids[2]]
    assert [c.id for c in store.list()] == [ids[3]]


def test_names_are_stored_and_shown_with_controls_escaped(tmp_path):
    store = CaseStore(tmp_path)
    case = store.add(_report("gpj.\u202eexe\n.jpg"))
    assert case.input_name == "gpj.\\u202eexe\\n.jpg"
    assert store.get(case.id).report["input"]["path"] == case.input_name
    assert store.summaries()[0]["input_name"] == case.input_name
    store._db.execute("UPDATE cases SET input_name = 'x\u2066y.jpg'")  # stored before escaping
    assert store.get(case.id).input_name == "x\\u2066y.jpg"
    assert display_name("\u200b" * 100, limit=20) == "\\u200b" * 3
    assert display_name("naïve café.jpg") == "naïve café.jpg"
