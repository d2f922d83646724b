"""CPU seconds spent by a process tree while a benchmark runs, grouped by what each process is.

A background thread reads ``/proc/<pid>/stat`` of the roots and all their descendants every
``interval_s``; a process's last reading counts, so one that exits midway (a Ray Data actor at the
end of its dataset) is still counted up to its last sample. Ray names its workers by what they
run (``ray::MapWorker(MapBatches(EmbedActor))``, ``ray::ServeReplica:clinisight:TenantIndex0``),
and that name groups them; an idle worker's earlier busy name is kept. Linux only.
"""

from __future__ import annotations

import os
import re
import threading
from collections import defaultdict
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of ``pid``, or None if it is gone."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def _name(pid: int) -> str:
    try:
        cmd = (_PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    first = cmd[0].decode(errors="replace").strip()
    if first.startswith("ray::"):
        return first.split(" ")[0]
    words = [Path(w.decode(errors="replace")).name for w in cmd if w]
    # "python -m x" or "node .../dynalite" is named by the script, not the interpreter.
    script = next((w for w in words[1:] if not w.startswith("-")), "")
    return " ".join(w for w in (words[0] if words else "?", script) if w)


class CpuSampler:
    """``start()``, run the workload, ``stop()``; then ``by_group()``: CPU seconds per name."""

    def __init__(self, roots: list[int], interval_s: float = 0.5) -> None:
        self.roots = roots
        self.interval_s = interval_s
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._names: dict[int, str] = {}
        self._started = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> CpuSampler:
        self._sample()
        self._started = True
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _tree(self) -> dict[int, float]:
        stats = {}
        for entry in _PROC.iterdir():
            if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
                stats[int(entry.name)] = st
        children: dict[int, list[int]] = defaultdict(list)
        for pid, (ppid, _) in stats.items():
            children[ppid].append(pid)
        found, todo = {}, [r for r in self.roots if r in stats]
        while todo:
            pid = todo.pop()
            found[pid] = stats[pid][1]
            todo.extend(children[pid])
        return found

    def _sample(self) -> None:
        for pid, cpu in self._tree().items():
            # A process first seen midway started during the run: all its CPU counts.
            self._first.setdefault(pid, 0.0 if self._started else cpu)
            self._last[pid] = cpu
            name = _name(pid)
            # An idle or exiting (empty cmdline) worker keeps the name it had while busy.
            if name not in ("ray::IDLE", "?") or pid not in self._names:
                self._names[pid] = name

    def by_group(self) -> dict[str, float]:
        """CPU seconds used during the run per process name, largest first."""
        groups: dict[str, float] = defaultdict(float)
        for pid, last in self._last.items():
            name = re.sub(r"\.[A-Za-z_]+$", "", self._names.get(pid, "?"))  # ray::Actor.method
            groups[name] += last - self._first[pid]
        return dict(sorted(((k, round(v, 1)) for k, v in groups.items() if v >= 0.05),
                           key=lambda kv: -kv[1]))
