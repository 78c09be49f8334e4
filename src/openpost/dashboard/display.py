"""How a platform looks on the dashboard: its label and a small badge in its colour.

Labels and colours come from ``openpost.platforms.specs`` (``label()``, ``spec_for().colour``).
The badge is an inline SVG (a rounded square in the platform's colour with its initial):
presentation attributes such as ``fill`` are not inline styles, so the page's
Content-Security-Policy (``style-src 'self'``) allows them, and nothing is fetched.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from openpost.platforms.specs import SPECS, label

FALLBACK_COLOUR = "#5b6473"


def colour(platform: str) -> str:
    spec = SPECS.get(platform)
    return spec.colour if spec else FALLBACK_COLOUR


def icon(platform: str) -> Markup:
    """The platform's initial on its colour, as a 1em inline SVG (decorative: the label is
    always written beside it)."""
    initial = escape(label(platform)[:1].upper())
    fill = escape(colour(platform))
    return Markup(  # noqa: S704 - the only inputs are escaped above
        '<svg class="pf-icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true"'
        f' focusable="false"><rect width="16" height="16" rx="4" fill="{fill}"/>'
        '<text x="8" y="12" text-anchor="middle" font-size="10" font-weight="700"'
        f' font-family="system-ui, sans-serif" fill="#fff">{initial}</text></svg>'
    )


def badge(platform: str, title: str = "") -> Markup:
    """Icon and label, e.g. for ``twitter``: [X] X."""
    tip = f' title="{escape(title)}"' if title else ""
    return Markup(  # noqa: S704 - every input is escaped
        f'<span class="badge platform" data-platform="{escape(platform)}"{tip}>'
        f"{icon(platform)}<span>{escape(label(platform))}</span></span>"
    )
