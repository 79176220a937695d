"""Error lines never vanish into a native-log silence held by another thread."""

from __future__ import annotations

import threading
import time

from opendfa.console import cli_error, print_stderr
from opendfa.faces.detect import _quiet_native_stderr


def test_lines_written_during_a_silence_wait_for_it_and_are_seen(capfd, monkeypatch):
    monkeypatch.delenv("OPENDFA_VERBOSE_NATIVE", raising=False)
    silenced, release = threading.Event(), threading.Event()

    def hold_silence():
        with _quiet_native_stderr():
            silenced.set()
            release.wait(5)

    holder = threading.Thread(target=hold_silence)
    holder.start()
    silenced.wait(5)
    writers = [
        threading.Thread(target=cli_error, args=("file not found", "x.jpg")),
        threading.Thread(target=print_stderr, args=("3 analysed, 0 already there",)),
    ]
    for writer in writers:
        writer.start()
    time.sleep(0.2)
    assert all(writer.is_alive() for writer in writers)  # waiting, not writing into /dev/null
    release.set()
    for thread in (holder, *writers):
        thread.join(5)
    err = capfd.readouterr().err
    assert "opendfa: error: file not found (x.jpg)" in err
    assert "3 analysed, 0 already there" in err
