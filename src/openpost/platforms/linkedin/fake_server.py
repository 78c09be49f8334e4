"""The fake LinkedIn as a server: a seeded world and the command line
(``python -m openpost.platforms.linkedin.fake --port 8086 --seed --oauth-client ID:SECRET:CB``).
"""

from __future__ import annotations

from datetime import timedelta

from openpost.platforms.fakes import base
from openpost.platforms.linkedin.fake import FakeLinkedIn, FakeMember, FakeOrganization


def seed(state: FakeLinkedIn, *, posts: int = 30) -> tuple[FakeMember, FakeOrganization]:
    """Ada Admin, administrator of "OpenPost Analytics" (with ``posts`` posts, one every 6
    hours) and Mo Member, a member with two posts of their own."""
    admin = state.add_member("Ada", "Admin")
    org = state.add_organization("OpenPost Analytics", admin=admin, followers=1280)
    now = state.now()
    for n in range(posts):
        views = 4000 // (n + 1) + 30 * (posts - n)
        state.add_post(
            org,
            kind="share" if n % 3 else "ugcPost",
            published_at=now - timedelta(hours=6 * n + 1),
            impressions=views,
            likes=views // 30,
            comments=views // 200,
            shares=views // 400,
        )
    solo = state.add_member("Mo", "Member")
    for n in range(2):
        state.add_post(solo, published_at=now - timedelta(days=n + 1), impressions=900, likes=40)
    return admin, org


def main(argv: list[str] | None = None) -> None:
    parser = base.server_arguments(
        "Run the fake LinkedIn API server.",
        port=8086,
        seed_help="a page, its admin and posts",
        seed_default=30,
    )
    parser.add_argument(
        "--oauth-client",
        metavar="ID:SECRET:CALLBACK",
        help="register an OAuth client (consent is given on the test-member page)",
    )
    args = parser.parse_args(argv)
    state = FakeLinkedIn()
    if args.seed:
        seed(state, posts=args.seed_posts)
    if args.oauth_client:
        client_id, secret, callback = args.oauth_client.split(":", 2)
        state.add_oauth_client(client_id, secret, callback)
    base.run_server(state.app, args, "fake LinkedIn API")


if __name__ == "__main__":
    main()
