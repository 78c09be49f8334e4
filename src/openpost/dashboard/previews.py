"""Post previews: the post's text and, where the platform serves one, its thumbnail.

A thumbnail is the platform's own image URL: the preview discovery stored for the post
(``post_targets.preview_url``: an X post's attached photo or a video's still, kept only from
the spec's ``preview_hosts``), else the spec's ``thumbnail_url`` (YouTube's video
thumbnails). The browser loads it; the page's Content-Security-Policy allows exactly those
hosts as image sources. A page works the same without any (``dashboard.js`` hides an
image that fails to load).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

from sqlalchemy.orm import Session

from openpost.platforms.specs import SPECS
from openpost.posts.service import platform_ids


def thumbnail(platform: str, platform_post_id: str) -> str | None:
    spec = SPECS.get(platform)
    if spec is None or not spec.thumbnail_url:
        return None
    return spec.thumbnail_url.format(post_id=quote(platform_post_id, safe=""))


def image_origins() -> list[str]:
    """The origins thumbnails come from, for the ``img-src`` directive."""
    origins = set()
    for spec in SPECS.values():
        if spec.thumbnail_url:
            parts = urlsplit(spec.thumbnail_url)
            origins.add(f"{parts.scheme}://{parts.netloc}")
        origins.update(f"https://{host}" for host in spec.preview_hosts)
    return sorted(origins)


def thumbnails(
    session: Session, workspace_id: uuid.UUID, post_ids: Sequence[uuid.UUID]
) -> dict[str, str]:
    """Post id (as text) → the first thumbnail among its targets, for posts that have one."""
    found: dict[str, str] = {}
    for post_id, targets in platform_ids(session, workspace_id, post_ids).items():
        for platform, platform_post_id, preview_url in targets:
            url = preview_url or thumbnail(platform, platform_post_id)
            if url:
                found[str(post_id)] = url
                break
    return found
