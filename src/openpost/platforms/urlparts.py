"""Pieces the platforms' post-URL rules share (pure). ASCII digits only: ``\\d`` would take
any Unicode digit, which no platform's ids contain."""

from __future__ import annotations

import re

DIGITS = re.compile(r"^[0-9]{1,20}$")
LIMIT_64_BITS = 2**64


def first(pattern: re.Pattern[str], path: str) -> str | None:
    """The pattern's first group in ``path``, or ``None``."""
    match = pattern.match(path)
    return match[1] if match else None


def fits_64_bits(value: str) -> bool:
    """A decimal id that a 64-bit unsigned integer holds (X and Mastodon ids)."""
    return value.isascii() and value.isdigit() and int(value) < LIMIT_64_BITS
