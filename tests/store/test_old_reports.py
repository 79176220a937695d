"""Cases stored before report schema version 2 still load, upgraded on the way out."""

from __future__ import annotations

import json
import sqlite3

import numpy as np

from opendfa.evidence.report import InputInfo, ModelInfo, Report
from opendfa.store import CaseStore


def test_a_case_stored_as_report_1_loads_as_report_2_with_no_forensics(tmp_path):
    store = CaseStore(tmp_path)
    report = Report(
        InputInfo("a.jpg", "f" * 64, "image", 8, 6, 1), ModelInfo("m@1", None), "no_face"
    )
    report.preview = np.full((6, 8, 3), 200, np.uint8)
    case = store.add(report)
    old = report.to_json()
    old["schema"] = "opendfa.report/1"
    del old["forensics"]
    with sqlite3.connect(store.path) as db:  # as an OpenDFA before version 2 wrote it
        db.execute("UPDATE cases SET report = ? WHERE id = ?", (json.dumps(old), case.id))
    again = CaseStore(tmp_path).get(case.id)
    assert again.report["schema"] == "opendfa.report/2"
    assert again.report["forensics"] is None
    assert store.report(case.id).forensics is None
