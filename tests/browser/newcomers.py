"""Workspaces the browser tests add beside the demo: what a newcomer meets.

- "Fresh start" (live): its owner ``NEW_EMAIL`` is the only owner, an admin beside them,
  and no account connected yet;
- "Big numbers" (live, Europe/Berlin): a YouTube channel whose videos pass a million
  views and a Bluesky account with a few hundred likes, over the last week, so one
  platform's scale dwarfs the other's. Video ids are real-looking, for thumbnails.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from openpost.workspaces.service import add_member, create_workspace
from tests.builders import add_snapshot, make_integration, make_post

PASSWORD = "newcomer-password-1"
NEW_EMAIL = "new@openpost.test"
ADMIN_EMAIL = "admin@openpost.test"
BIG_EMAIL = "big@openpost.test"
VIDEO_ID = "dQw4w9WgXcQ"


def seed_newcomers(session: Session, now: datetime) -> dict[str, Any]:
    fresh = create_workspace(session, "Fresh start", mode="live", timezone="Europe/Berlin")
    add_member(session, fresh, email=NEW_EMAIL, password=PASSWORD, role="owner")
    add_member(session, fresh, email=ADMIN_EMAIL, password=PASSWORD, role="admin")

    big = create_workspace(session, "Big numbers", mode="live", timezone="Europe/Berlin")
    add_member(session, big, email=BIG_EMAIL, password=PASSWORD, role="owner")
    youtube = make_integration(session, big, platform="youtube", username="bigchannel")
    bluesky = make_integration(session, big, platform="bluesky", username="small.bsky.social")
    video_post = None
    for day in range(6, 0, -1):
        published = now - timedelta(days=day, hours=3)
        video, (target,) = make_post(
            session, big, [youtube], content=f"Launch video {day}: a tour", published_at=published
        )
        target.platform_post_id = VIDEO_ID if day == 1 else f"vid{day:08d}"
        target.post_url = f"https://www.youtube.com/watch?v={target.platform_post_id}"
        views = 1_250_000 + day * 310_000
        add_snapshot(session, target, published + timedelta(hours=1), impressions=views // 3,
                     likes=900, comments=40, shares=None)  # fmt: skip
        add_snapshot(session, target, published + timedelta(hours=20), impressions=views,
                     likes=4200, comments=120, shares=None)  # fmt: skip
        if day == 1:
            video_post = video
        _note, (sky,) = make_post(
            session, big, [bluesky], content=f"Short note {day}", published_at=published
        )
        add_snapshot(session, sky, published + timedelta(hours=2), impressions=None,
                     likes=120 + day, comments=4, shares=9)  # fmt: skip
    session.flush()
    assert video_post is not None
    return {"video_post": str(video_post.id), "video_id": VIDEO_ID}
