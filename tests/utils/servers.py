"""Real servers on loopback for tests: dynalite, and a tiny threaded HTTP server base."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx

from serve.stack import dynalite_command

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dynalite:
    """A dynalite process keeping its data under ``path``; restartable on the same data."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [*dynalite_command(), "--host", "127.0.0.1", "--port", str(self.port), "--path",
             str(self.path), "--createTableMs", "0", "--deleteTableMs", "0",
             "--updateTableMs", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url, timeout=0.5)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("dynalite did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None
