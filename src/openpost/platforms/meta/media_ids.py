"""Shortcode → media id, learnt from listings, for the Meta platforms whose stored post ids
are shortcodes (Threads, Instagram): the metrics endpoints take the media id. Bounded (the
oldest pairs go first) and thread-safe: one map serves every client of a process, since a
post's shortcode and media id never change."""

from __future__ import annotations

import threading
from collections import OrderedDict


class MediaIds:
    def __init__(self, capacity: int = 100_000) -> None:
        self._pairs: OrderedDict[str, str] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, code: str) -> str | None:
        with self._lock:
            return self._pairs.get(code)

    def put(self, code: str, media_id: str) -> None:
        with self._lock:
            self._pairs[code] = media_id
            self._pairs.move_to_end(code)
            while len(self._pairs) > self._capacity:
                self._pairs.popitem(last=False)

    def forget(self, code: str) -> None:
        with self._lock:
            self._pairs.pop(code, None)
