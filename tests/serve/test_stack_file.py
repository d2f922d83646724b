"""The stack's pid file, read by `up`, `down` and `status` while the supervisor writes it."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from config.settings import Settings
from serve.stack import _record, pid_file


def test_a_reader_never_sees_a_half_written_pid_file(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    _record(settings, pid=1, ready=False)
    done = threading.Event()

    def supervisor() -> None:  # records as the supervisor does while it starts
        for n in range(3000):
            _record(settings, step=n, metrics="http://127.0.0.1:8090/metrics" * (n % 7))
        done.set()

    writer = threading.Thread(target=supervisor)
    writer.start()
    reads = 0
    try:
        while not done.is_set():
            info = json.loads(pid_file(settings).read_text())  # `up` polls it so
            assert info["pid"] == 1
            reads += 1
    finally:
        writer.join()
    assert reads > 0
    assert json.loads(pid_file(settings).read_text())["step"] == 2999
    assert [p.name for p in pid_file(settings).parent.iterdir()] == ["stack.json"]  # no temp
