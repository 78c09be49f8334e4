"""LinkedIn calls per due post, measured against the fake, beside the daily budgets.

    .venv/bin/python -m bench.linkedin_calls --org-posts 45 --members 3 --member-posts 4
    .venv/bin/python -m bench.linkedin_calls --app-calls 40 --member-calls 10

One organization page (its administrator's token) with ``--org-posts`` posts and
``--members`` members (each their own token) with ``--member-posts`` posts each are tracked
in a SQLite database (integrations with sealed tokens, targets due now). The planner plans
one pass under ``--app-calls`` (the app's calls per UTC day, 0: none) and ``--member-calls``
(each token's); the batches are captured through the fake in-process
(``refresh.capture.capture_batch``) and the fake's request log is counted. Expected: a page
costs ⌈N/batch⌉ share-statistics calls (``OPENPOST_LINKEDIN_BATCH_SIZE``, 20), a member
post one memberCreatorPostAnalytics call per metric (``OPENPOST_LINKEDIN_MEMBER_METRICS``,
4); planned calls never exceed either budget, and the calls made equal the planned ones
(plus one posts lookup per post the statistics left out: none here).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openpost.config import Settings
from openpost.core import clock
from openpost.core.crypto import Sealer
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.core.migrate import upgrade
from openpost.integrations.models import Integration
from openpost.platforms.linkedin.fake import FakeLinkedIn, FakeMember
from openpost.platforms.linkedin.oauth import SCOPES
from openpost.posts.models import Post, PostTarget
from openpost.refresh import runner, state
from openpost.refresh.capture import capture_batch
from openpost.refresh.runner import Runtime
from openpost.workspaces.service import create_workspace

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)


def _track(session: object, integration: Integration, urn: str, at: datetime) -> None:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    post = Post(workspace_id=integration.workspace_id, content="bench", published_at=at)
    session.add(post)
    session.flush()
    target = PostTarget(
        workspace_id=integration.workspace_id,
        post_id=post.id,
        integration_id=integration.id,
        platform_post_id=urn,
        post_url=f"https://www.linkedin.com/feed/update/{urn}/",
        published_at=at,
        status="published",
    )
    session.add(target)
    session.flush()
    state.track(session, integration.workspace_id, [target.id], NOW)


def run(args: argparse.Namespace) -> dict[str, int]:
    clock.set_clock(lambda: NOW)
    work = Path(tempfile.mkdtemp(prefix="linkedin-bench-"))
    url = f"sqlite:///{work / 'bench.db'}"
    settings = Settings(
        env="test",
        database_url=url,
        linkedin_client_id="bench",
        linkedin_client_secret="bench-secret",  # noqa: S106 - the fake's
        linkedin_daily_app_calls=args.app_calls,
        linkedin_daily_member_calls=args.member_calls,
    )
    engine = make_engine(url)
    upgrade(engine)
    fake = FakeLinkedIn()
    fake.add_oauth_client("bench", "bench-secret", "https://bench/cb")
    admin = fake.add_member("Ada", "Admin")
    org = fake.add_organization("Bench", admin=admin)
    members = [fake.add_member("M", str(n)) for n in range(args.members)]
    sealer = Sealer.from_settings(settings)
    factory = make_sessionmaker(engine)

    def sealed(who: FakeMember) -> str:
        issued = fake.issue_tokens(who, "bench", " ".join(SCOPES))
        expires = (NOW + timedelta(days=60)).isoformat()
        return sealer.seal(
            {
                "kind": "linkedin_oauth2",
                "access_token": issued["access_token"],
                "refresh_token": issued["refresh_token"],
                "expires_at": expires,
            }
        )

    with transaction(factory) as session:
        wid = create_workspace(session, "LinkedIn bench").id
        accounts = [(org.urn, admin, args.org_posts, org)] + [
            (m.urn, m, args.member_posts, m) for m in members
        ]
        for urn, who, count, author in accounts:
            integration = Integration(
                workspace_id=wid,
                platform="linkedin",
                external_account_id=urn,
                username=urn,
                display_name=urn,
                status="active",
                synthetic=False,
                analytics_enabled=True,
                created_at=NOW,
                credentials_encrypted=sealed(who),
                id=uuid.uuid4(),
            )
            session.add(integration)
            session.flush()
            for k in range(count):
                at = NOW - timedelta(hours=k + 1)
                post = fake.add_post(author, published_at=at, impressions=100 + k, likes=k)
                _track(session, integration, post.urn, at)
    rt = Runtime.from_settings(settings, factory=factory, transports={"linkedin": fake.transport()})
    try:
        plan, batches = runner.plan_captures(rt, NOW)
        before = len(fake.requests)
        read = 0
        for batch in batches:
            capture_batch(rt.factory, rt.clients, rt.policy, batch)
            read += len(batch.targets)
        made = fake.requests[before:]
    finally:
        rt.close()
        engine.dispose()
        clock.set_clock(None)
    chosen_member = sum(
        len(t) for t in plan.chosen.values() if t and t[0].username.startswith("urn:li:person:")
    )
    return {
        "planned": plan.spend.get("linkedin", 0),
        "over_budget": plan.over_budget.get("linkedin", 0),
        "org_read": sum(len(t) for t in plan.chosen.values()) - chosen_member,
        "member_read": chosen_member,
        "share_statistics": sum(r.endpoint == "share_statistics" for r in made),
        "member_analytics": sum(r.endpoint == "member_analytics" for r in made),
        "other": sum(r.endpoint not in ("share_statistics", "member_analytics") for r in made),
        "read": read,
        "metrics": 4,
        "batch": settings.linkedin_batch_size,
        "max_member_spend": max(plan.credential_spend.values(), default=0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.linkedin_calls", description=__doc__)
    parser.add_argument("--org-posts", type=int, default=45)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--member-posts", type=int, default=4)
    parser.add_argument("--app-calls", type=int, default=0, help="0: no app budget")
    parser.add_argument("--member-calls", type=int, default=0, help="0: no member budget")
    args = parser.parse_args(argv)
    f = run(args)
    calls = f["share_statistics"] + f["member_analytics"] + f["other"]
    org_expected = math.ceil(f["org_read"] / f["batch"]) if f["org_read"] else 0
    print(
        f"LinkedIn: 1 page x {args.org_posts} posts, {args.members} members x "
        f"{args.member_posts} posts, batch {f['batch']}, {f['metrics']} member metrics"
    )
    print(
        f"  page posts read    {f['org_read']:>5}  "
        f"share-statistics calls {f['share_statistics']:>5}"
        f"  (⌈N/{f['batch']}⌉ = {org_expected}; per post "
        f"{f['share_statistics'] / max(f['org_read'], 1):.3f})"
    )
    print(
        f"  member posts read  {f['member_read']:>5}  "
        f"member-analytics calls {f['member_analytics']:>5}"
        f"  (posts x metrics = {f['member_read'] * f['metrics']}; per post "
        f"{f['member_analytics'] / max(f['member_read'], 1):.1f})"
    )
    app = args.app_calls or "none"
    member = args.member_calls or "none"
    print(
        f"  planned calls {f['planned']} (app day budget {app}); made {calls} "
        f"(measured in the fake's log); largest one token's {f['max_member_spend']} "
        f"(member day budget {member}); posts left for later {f['over_budget']}"
    )
    within = (not args.app_calls or f["planned"] <= args.app_calls) and (
        not args.member_calls or f["max_member_spend"] <= args.member_calls
    )
    print("  within budget: " + ("yes" if within and calls == f["planned"] else "NO"))
    return 0 if within else 1


if __name__ == "__main__":
    raise SystemExit(main())
