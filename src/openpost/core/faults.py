"""Faults injected at exact points, for the fault tests only (``OPENPOST_FAULT_INJECTION``).

``reach(settings, "capture.commit")`` does nothing unless that point is named in the
setting, which ``Settings`` refuses outside ``OPENPOST_ENV=test``: production code paths
carry the call, never the fault. The setting is comma-separated entries, each a point
alone (SIGKILL this process there, as an out-of-memory killer or a power cut would, with
no cleanup of any kind) or ``point:SECONDS`` (sleep there, to hold work in flight).

Points:

- ``capture.fetch`` — a capture is about to call its platform (no transaction open);
- ``capture.commit`` — a capture's transaction has sent every statement (snapshots,
  refresh states, pointers) and is about to commit.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Protocol

POINTS = frozenset({"capture.fetch", "capture.commit"})
KILL = -1.0


class _Configured(Protocol):
    @property
    def fault_injection(self) -> str: ...


def parse(value: str) -> dict[str, float]:
    """Point → seconds to sleep there (``KILL``: kill the process). Unknown points and
    malformed delays are an error."""
    found: dict[str, float] = {}
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        point, _, delay = entry.partition(":")
        if point not in POINTS:
            raise ValueError(f"unknown fault point {point!r} (known: {', '.join(sorted(POINTS))})")
        try:
            found[point] = float(delay) if delay else KILL
        except ValueError:
            raise ValueError(f"fault {entry!r}: the delay must be a number of seconds") from None
        if delay and found[point] < 0:
            raise ValueError(f"fault {entry!r}: the delay must not be negative")
    return found


def reach(settings: _Configured, point: str) -> None:
    if not settings.fault_injection:
        return
    action = parse(settings.fault_injection).get(point)
    if action is None:
        return
    if action == KILL:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(action)
