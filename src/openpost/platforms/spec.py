"""What the rest of the code may know about a platform: one ``PlatformSpec`` each.

A spec is plain data plus a few hooks. Anyone may read it (the dashboard for labels and
colours, the planner for batch sizes and budgets, posts for URL rules); only ``refresh``
builds clients from it. ``specs.py`` lists every platform's spec; nothing else branches on a
platform's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openpost.config import Settings


def _never_configured(_settings: Settings) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class PlatformSpec:
    """Everything that differs from one platform to the next, in one place.

    - ``name``: the stored code (``twitter``); ``label``: what people read (``X``).
    - ``colour``: its colour in charts; ``handle_hint``: the connect form's placeholder.
    - ``settle_time``: how long after publication its numbers keep settling; a reading
      taken inside it is provisional (SPEC §9.2).
    - ``configured(settings)``: whether the operator has given what reading it needs (an
      API key, an app's credentials); ``needs``: what to set when it is not.
    - ``consent_only``: accounts connect only through the owner's consent (no handle form).
    - ``thumbnail_url``: where the platform serves a post's preview image, ``{post_id}``
      standing for its platform post id (YouTube's video thumbnails); empty for none.
    """

    name: str
    label: str
    colour: str
    handle_hint: str
    settle_time: timedelta
    configured: Callable[[Settings], bool] = _never_configured
    needs: str = ""
    consent_only: bool = False
    thumbnail_url: str = ""
