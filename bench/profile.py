"""Sampling profiles of the server under test, with py-spy (a dev dependency).

``Recorder`` runs ``py-spy record --format raw`` on a process while a case is measured;
``summarise`` reads the collapsed stacks and reports where the busy samples went: the
functions with the most samples of their own (self), and the project's own functions by
inclusive share. Samples whose innermost frame is a thread waiting (a lock, the selector,
the thread-pool queue) are idle time and left out.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any

IDLE = (
    "Condition.wait",
    "Event.wait",
    "EpollSelector.select",
    "Thread.join",
    "Queue.get",
    "_wait_for_tstate_lock",
)
LINE_NUMBER = re.compile(r":\d+\)$")


def py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("py-spy is missing: pip install -c requirements/lock.txt py-spy")
    return found


class Recorder:
    """``with Recorder(pid, path):`` samples ``pid`` into ``path`` until the block ends."""

    def __init__(self, pid: int, path: Path, rate: int = 200) -> None:
        self.command = [py_spy(), "record", "-p", str(pid), "-o", str(path), "-f", "raw"]
        self.command += ["-r", str(rate), "--nonblocking"]
        self.path = path
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Recorder:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(  # noqa: S603 - py-spy with our arguments
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)  # py-spy writes its output and exits
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def summarise(path: Path, top: int = 12) -> dict[str, Any]:
    """Self and (project-only) inclusive shares of the busy samples in a raw profile."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    busy = idle = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [LINE_NUMBER.sub(")", frame) for frame in stack.split(";")]
        if any(frame.startswith(IDLE) for frame in frames[-3:]):
            idle += int(count)
            continue
        busy += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            if "openpost/" in frame:
                inclusive[frame] += int(count)
    share = (lambda n: round(n / busy, 3)) if busy else (lambda _n: 0.0)
    return {
        "busy_samples": busy,
        "idle_samples": idle,
        "self": [[share(n), name] for name, n in own.most_common(top)],
        "project_inclusive": [[share(n), name] for name, n in inclusive.most_common(top)],
    }


def describe(summary: dict[str, Any], lines: int = 8) -> str:
    out = [
        f"    busy samples: {summary['busy_samples']} (idle left out: {summary['idle_samples']})"
    ]
    out += ["    self:"] + [f"      {s:6.1%}  {name}" for s, name in summary["self"][:lines]]
    out += ["    project functions, inclusive:"]
    out += [f"      {s:6.1%}  {name}" for s, name in summary["project_inclusive"][:lines]]
    return "\n".join(out)
