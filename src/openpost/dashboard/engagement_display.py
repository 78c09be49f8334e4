"""How an engagement figure looks on the dashboard: a rate always names its denominator.

``rate_of(0.024342, "views")`` is "2.43% of views"; an unknown rate says why in words
("no views reported", "followers not known"), never "0%". Registered as Jinja filters
in ``web``.
"""

from __future__ import annotations

from markupsafe import Markup, escape

_WHY_NONE = {
    "views": "no views reported",
    "followers": "followers not known",
}


def rate_text(rate: float | None) -> str:
    """A fraction as a percentage with two decimals under 10 % and one above: 2.43%, 12.5%."""
    if rate is None:
        return ""
    value = rate * 100
    return f"{value:.1f}%" if value >= 10 else f"{value:.2f}%"


def rate_of(rate: float | None, denominator: str) -> Markup:
    """The rate with its denominator named, the raw fraction in ``data-rate`` (what the API
    gives), or the reason there is none."""
    if rate is None:
        why = _WHY_NONE.get(denominator, f"no {denominator}")
        return Markup('<span class="rate none" data-rate="">{}</span>').format(why)
    return Markup('<span class="rate" data-rate="{}">{} of {}</span>').format(
        repr(rate), rate_text(rate), escape(denominator)
    )


def median_text(value: float | None) -> str:
    """A median of whole counts: no decimals unless it is halfway (12.5)."""
    if value is None:
        return "—"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


FILTERS = {"rate_of": rate_of, "rate_text": rate_text, "median": median_text}
