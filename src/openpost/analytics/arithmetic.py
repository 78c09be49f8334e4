"""Pure analytics arithmetic: deltas and totals over metrics that may be unreported.

``None`` means the platform does not report a counter; ``0`` means it measured zero.
The two never blend: a sum over nothing reported is ``None``, not 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from openpost.analytics.models import METRICS

Metrics = Mapping[str, int | None]


def delta(latest: Metrics | None, previous: Metrics | None) -> dict[str, int | None]:
    """Latest minus previous, per metric.

    With no previous reading the delta is the whole latest value; with no latest reading
    every delta is ``None``. Where either side is ``None`` the delta is ``None``. Deltas
    may be negative (an unlike is real information, not an error).
    """
    if latest is None:
        return dict.fromkeys(METRICS)
    result: dict[str, int | None] = {}
    for metric in METRICS:
        now = latest.get(metric)
        if previous is None:
            result[metric] = now
            continue
        before = previous.get(metric)
        result[metric] = None if now is None or before is None else now - before
    return result


def totals(rows: Iterable[Metrics]) -> dict[str, int | None]:
    """Per metric, the sum over rows that report it; ``None`` where no row does."""
    result: dict[str, int | None] = dict.fromkeys(METRICS)
    for row in rows:
        for metric in METRICS:
            value = row.get(metric)
            if value is not None:
                current = result[metric]
                result[metric] = value if current is None else current + value
    return result
