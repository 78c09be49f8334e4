"""posts.urls: every platform's URL forms, ids given directly, and URLs written back."""

from __future__ import annotations

import pytest

from openpost.integrations.models import Platform
from openpost.posts.urls import (
    PostUrlError,
    check_post_id,
    owned_post_id,
    platform_of_host,
    post_id_from_url,
    url_for_post,
)

POST_URLS = [
    # X: ids stay strings, whatever their size
    ("twitter", "https://x.com/openpost/status/1812345678901234567", "1812345678901234567"),
    (
        "twitter",
        "https://twitter.com/OpenPost/status/1812345678901234567?s=20",
        "1812345678901234567",
    ),
    ("twitter", "https://mobile.twitter.com/openpost/status/20", "20"),
    ("twitter", "https://www.x.com/openpost/status/20/photo/1", "20"),
    ("twitter", "http://X.COM/openpost/status/20/", "20"),
    ("twitter", "x.com/openpost/status/20", "20"),
    ("twitter", "https://x.com/i/web/status/20", "20"),
    ("twitter", "https://twitter.com/openpost/statuses/20", "20"),
    # Bluesky: the rkey-based AT-URI, handle or DID as in the URL
    (
        "bluesky",
        "https://bsky.app/profile/alice.bsky.social/post/3lq2xyzabc22k",
        "at://alice.bsky.social/app.bsky.feed.post/3lq2xyzabc22k",
    ),
    (
        "bluesky",
        "https://bsky.app/profile/did:plc:abc123/post/3lq2xyzabc22k/",
        "at://did:plc:abc123/app.bsky.feed.post/3lq2xyzabc22k",
    ),
    # Mastodon: any instance, both URL shapes
    ("mastodon", "https://mastodon.social/@alice/113000000000000001", "113000000000000001"),
    (
        "mastodon",
        "https://fosstodon.org/users/alice/statuses/113000000000000001",
        "113000000000000001",
    ),
    ("mastodon", "https://social.example/@bob_smith/42/", "42"),
    # YouTube: 11-character ids in every URL form
    ("youtube", "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ"),
    ("youtube", "https://m.youtube.com/watch?feature=share&v=dQw4w9WgXcQ&t=10", "dQw4w9WgXcQ"),
    ("youtube", "https://youtu.be/dQw4w9WgXcQ?si=abc", "dQw4w9WgXcQ"),
    ("youtube", "https://youtube.com/shorts/aB-_9xYz012", "aB-_9xYz012"),
    ("youtube", "https://www.youtube.com/live/dQw4w9WgXcQ", "dQw4w9WgXcQ"),
    ("youtube", "https://www.youtube.com/embed/dQw4w9WgXcQ", "dQw4w9WgXcQ"),
    # Threads and Instagram: the shortcode
    ("threads", "https://www.threads.net/@openpost/post/C8abc-_XYZ1", "C8abc-_XYZ1"),
    ("threads", "https://www.threads.com/@openpost/post/C8abc-_XYZ1/media", "C8abc-_XYZ1"),
    ("threads", "https://threads.net/t/C8abc-_XYZ1", "C8abc-_XYZ1"),
    ("instagram", "https://www.instagram.com/p/CxYz123AbC_/", "CxYz123AbC_"),
    ("instagram", "https://instagram.com/reel/CxYz123AbC_", "CxYz123AbC_"),
    ("instagram", "https://www.instagram.com/openpost/p/CxYz123AbC_/?img_index=1", "CxYz123AbC_"),
    ("instagram", "https://www.instagram.com/tv/CxYz123AbC_/", "CxYz123AbC_"),
    # Facebook: page-post ids from permalinks, plain ids otherwise
    (
        "facebook",
        "https://www.facebook.com/permalink.php?story_fbid=456&id=123",
        "123_456",
    ),
    ("facebook", "https://m.facebook.com/story.php?story_fbid=456&id=123", "123_456"),
    ("facebook", "https://www.facebook.com/openpost/posts/1234567890", "1234567890"),
    ("facebook", "https://www.facebook.com/openpost/videos/launch-day/987654321/", "987654321"),
    ("facebook", "https://www.facebook.com/reel/987654321", "987654321"),
    ("facebook", "https://www.facebook.com/watch/?v=987654321", "987654321"),
    ("facebook", "https://www.facebook.com/photo/?fbid=555", "555"),
    ("facebook", "https://www.facebook.com/123_456", "123_456"),
    # LinkedIn: URNs, from either URL form, encoded or not
    (
        "linkedin",
        "https://www.linkedin.com/feed/update/urn:li:activity:7100000000000000001/",
        "urn:li:activity:7100000000000000001",
    ),
    (
        "linkedin",
        "https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A7100000000000000001",
        "urn:li:share:7100000000000000001",
    ),
    (
        "linkedin",
        "https://www.linkedin.com/posts/openpost_launch-day-activity-7100000000000000001-AbCd",
        "urn:li:activity:7100000000000000001",
    ),
    (
        "linkedin",
        "https://uk.linkedin.com/posts/openpost_hello-ugcpost-7100000000000000002-xY_z/",
        "urn:li:ugcPost:7100000000000000002",
    ),
    # TikTok and Pinterest: digits
    ("tiktok", "https://www.tiktok.com/@openpost/video/7077642457847991554", "7077642457847991554"),
    (
        "tiktok",
        "https://m.tiktok.com/@openpost/photo/7077642457847991554?lang=en",
        "7077642457847991554",
    ),
    ("pinterest", "https://www.pinterest.com/pin/1234567890123/", "1234567890123"),
    ("pinterest", "https://pinterest.co.uk/pin/1234567890123", "1234567890123"),
    ("pinterest", "https://de.pinterest.com/pin/1234567890123/", "1234567890123"),
]


@pytest.mark.parametrize(("platform", "url", "expected"), POST_URLS)
def test_post_url_gives_the_platform_id(platform: str, url: str, expected: str) -> None:
    assert post_id_from_url(platform, url) == expected


def test_every_platform_has_url_cases() -> None:
    assert {case[0] for case in POST_URLS} == set(Platform)


WRONG_PLATFORM = [
    (
        "bluesky",
        "https://x.com/openpost/status/20",
        "is an X URL, but the integration is a Bluesky",
    ),
    ("twitter", "https://bsky.app/profile/a.bsky.social/post/3lq2", "is a Bluesky URL"),
    (
        "mastodon",
        "https://x.com/openpost/status/20",
        "is an X URL, but the integration is a Mastodon",
    ),
    ("twitter", "https://mastodon.social/@alice/113", "is not an X post URL"),
    ("youtube", "https://www.tiktok.com/@a/video/7077", "is a TikTok URL"),
    ("tiktok", "https://youtu.be/dQw4w9WgXcQ", "is a YouTube URL"),
    ("instagram", "https://www.threads.net/@a/post/C8abc", "is a Threads URL"),
    ("threads", "https://www.instagram.com/p/CxYz/", "is an Instagram URL"),
    ("facebook", "https://www.linkedin.com/feed/update/urn:li:share:1", "is a LinkedIn URL"),
    ("linkedin", "https://www.facebook.com/openpost/posts/1", "is a Facebook URL"),
    ("pinterest", "https://www.instagram.com/p/CxYz/", "is an Instagram URL"),
    ("twitter", "https://www.pinterest.fr/pin/123/", "is a Pinterest URL"),
    ("pinterest", "https://example.com/pin/123/", "is not a Pinterest post URL"),
]


@pytest.mark.parametrize(("platform", "url", "message"), WRONG_PLATFORM)
def test_url_of_another_platform_is_refused(platform: str, url: str, message: str) -> None:
    with pytest.raises(PostUrlError, match=message):
        post_id_from_url(platform, url)


NOT_A_POST = [
    ("twitter", "https://x.com/openpost"),
    ("twitter", "https://x.com/openpost/status/abc"),
    ("twitter", "ftp://x.com/openpost/status/20"),
    ("twitter", "https://"),
    ("bluesky", "https://bsky.app/profile/alice.bsky.social"),
    ("mastodon", "https://mastodon.social/@alice"),
    ("mastodon", "https://mastodon.social/about"),
    ("youtube", "https://www.youtube.com/watch?v=short"),
    ("youtube", "https://www.youtube.com/@openpost"),
    ("youtube", "https://youtu.be/dQw4w9WgXcQextra"),
    ("threads", "https://www.threads.net/@openpost"),
    ("instagram", "https://www.instagram.com/openpost/"),
    ("facebook", "https://www.facebook.com/openpost"),
    ("facebook", "https://www.facebook.com/100064123456789"),
    ("facebook", "https://www.facebook.com/permalink.php?story_fbid=456"),
    ("linkedin", "https://www.linkedin.com/in/someone/"),
    ("linkedin", "https://www.linkedin.com/feed/update/urn:li:comment:1/"),
    ("tiktok", "https://www.tiktok.com/@openpost"),
    ("pinterest", "https://www.pinterest.com/openpost/boards/"),
]


@pytest.mark.parametrize(("platform", "url"), NOT_A_POST)
def test_url_that_is_not_a_post_is_refused(platform: str, url: str) -> None:
    with pytest.raises(PostUrlError):
        post_id_from_url(platform, url)


@pytest.mark.parametrize(
    ("platform", "url", "message"),
    [
        ("mastodon", "https://mastodon.social/@bob@other.example/113", "home instance"),
        ("facebook", "https://www.facebook.com/openpost/posts/pfbid02abcXYZ", "hides the post id"),
        ("tiktok", "https://vm.tiktok.com/ZMabc123/", "short link"),
        ("pinterest", "https://pin.it/abc123", "short link"),
        ("twitter", "https://t.co/abc123", "short link"),
    ],
)
def test_urls_whose_id_cannot_be_known_are_refused(platform: str, url: str, message: str) -> None:
    with pytest.raises(PostUrlError, match=message):
        post_id_from_url(platform, url)


POST_IDS = [
    ("twitter", " 1812345678901234567 ", "1812345678901234567"),
    ("mastodon", "113000000000000001", "113000000000000001"),
    (
        "bluesky",
        "at://did:plc:abc123/app.bsky.feed.post/3lq2",
        "at://did:plc:abc123/app.bsky.feed.post/3lq2",
    ),
    ("youtube", "dQw4w9WgXcQ", "dQw4w9WgXcQ"),
    ("threads", "17890000000000001", "17890000000000001"),
    ("threads", "C8abc-_XYZ1", "C8abc-_XYZ1"),
    ("instagram", "17900000000000001", "17900000000000001"),
    ("facebook", "123_456", "123_456"),
    ("facebook", "456", "456"),
    ("linkedin", "urn:li:share:7100000000000000001", "urn:li:share:7100000000000000001"),
    ("linkedin", "URN:LI:UGCPOST:7100000000000000002", "urn:li:ugcPost:7100000000000000002"),
    ("tiktok", "7077642457847991554", "7077642457847991554"),
    ("pinterest", "1234567890123", "1234567890123"),
    ("twitter", str(2**64 - 1), str(2**64 - 1)),  # the largest 64-bit id
    ("twitter", "20", "20"),
]


@pytest.mark.parametrize(("platform", "given", "stored"), POST_IDS)
def test_post_ids_of_the_platform_are_accepted(platform: str, given: str, stored: str) -> None:
    assert check_post_id(platform, given) == stored


@pytest.mark.parametrize(
    ("platform", "given"),
    [
        ("twitter", "12ab"),
        ("twitter", "https://x.com/a/status/1"),
        ("mastodon", "-5"),
        ("bluesky", "3lq2xyzabc22k"),
        ("bluesky", "at://alice.bsky.social/app.bsky.feed.like/3lq2"),
        ("youtube", "dQw4w9WgXc"),
        ("instagram", "has space"),
        ("facebook", "123_abc"),
        ("linkedin", "7100000000000000001"),
        ("linkedin", "urn:li:comment:1"),
        ("tiktok", "video1"),
        ("pinterest", ""),
        ("myspace", "1"),
        # X and Mastodon ids: ASCII digits within 64 bits, nothing else.
        ("twitter", "\u0661\u0662\u0663"),  # Arabic-Indic digits: str.isdigit() says yes
        ("twitter", "\uff11\uff12"),  # full-width digits
        ("twitter", "1234567890123456789012345"),  # 25 digits
        ("twitter", str(2**64)),
        ("mastodon", str(2**64 + 7)),
        ("tiktok", "\u0967\u0968"),  # Devanagari digits
    ],
)
def test_post_ids_of_the_wrong_shape_are_refused(platform: str, given: str) -> None:
    with pytest.raises(PostUrlError, match="is not"):
        check_post_id(platform, given)


URLS_FROM_IDS = [
    ("twitter", "20", "openpost", "https://x.com/openpost/status/20"),
    (
        "bluesky",
        "at://alice.bsky.social/app.bsky.feed.post/3lq2",
        "alice.bsky.social",
        "https://bsky.app/profile/alice.bsky.social/post/3lq2",
    ),
    ("mastodon", "113", "alice@mastodon.social", "https://mastodon.social/@alice/113"),
    ("mastodon", "113", "alice", None),
    ("youtube", "dQw4w9WgXcQ", "chan", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
    ("threads", "C8abc", "openpost", "https://www.threads.net/@openpost/post/C8abc"),
    ("threads", "17890000000000001", "openpost", None),
    ("instagram", "CxYz", "openpost", "https://www.instagram.com/p/CxYz/"),
    ("instagram", "17900000000000001", "openpost", None),
    ("facebook", "123_456", "page", "https://www.facebook.com/123_456"),
    ("facebook", "456", "page", None),
    (
        "linkedin",
        "urn:li:share:71",
        "org",
        "https://www.linkedin.com/feed/update/urn:li:share:71/",
    ),
    ("tiktok", "707", "openpost", "https://www.tiktok.com/@openpost/video/707"),
    ("pinterest", "123", "openpost", "https://www.pinterest.com/pin/123/"),
]


@pytest.mark.parametrize(("platform", "post_id", "username", "expected"), URLS_FROM_IDS)
def test_url_for_post(platform: str, post_id: str, username: str, expected: str | None) -> None:
    assert url_for_post(platform, post_id, username) == expected


@pytest.mark.parametrize(("platform", "url", "expected"), POST_URLS)
def test_written_urls_read_back_to_the_same_id(platform: str, url: str, expected: str) -> None:
    username = "alice@mastodon.social" if platform == "mastodon" else "openpost"
    written = url_for_post(platform, expected, username)
    if written is not None:
        assert post_id_from_url(platform, written) == expected


@pytest.mark.parametrize(
    ("host", "platform"),
    [
        ("www.twitter.com", "twitter"),
        ("YOUTU.BE", "youtube"),
        ("pinterest.com.au", "pinterest"),
        ("fr.linkedin.com", "linkedin"),
        ("mastodon.social", None),
        ("notx.com", None),
    ],
)
def test_platform_of_host(host: str, platform: str | None) -> None:
    assert platform_of_host(host) == platform


DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
RKEY = "3lq2xyzabc22k"


@pytest.mark.parametrize(
    "given",
    [
        f"at://alice.bsky.social/app.bsky.feed.post/{RKEY}",
        f"at://Alice.Bsky.Social/app.bsky.feed.post/{RKEY}",  # handles are case-blind
        f"at://{DID}/app.bsky.feed.post/{RKEY}",
    ],
)
def test_a_bluesky_post_of_the_account_is_stored_in_its_did_form(given: str) -> None:
    stored = owned_post_id("bluesky", given, username="alice.bsky.social", account_id=DID)
    assert stored == f"at://{DID}/app.bsky.feed.post/{RKEY}"  # what discovery reports


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (f"at://bob.bsky.social/app.bsky.feed.post/{RKEY}", "is a post of @bob.bsky.social"),
        (f"at://did:plc:someoneelse/app.bsky.feed.post/{RKEY}", "another Bluesky account"),
    ],
)
def test_a_bluesky_post_of_another_account_is_refused(given: str, message: str) -> None:
    with pytest.raises(PostUrlError, match=message):
        owned_post_id("bluesky", given, username="@alice.bsky.social", account_id=DID)


def test_simulated_accounts_keep_the_id_as_given() -> None:
    given = f"at://anyone.example/app.bsky.feed.post/{RKEY}"
    assert owned_post_id("bluesky", given, username="account3", account_id="1003") == given
    assert owned_post_id("mastodon", "42", username="account3", account_id="1003", url=None) == "42"


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("https://mastodon.social/@alice/113000000000000001", False),
        ("https://Mastodon.Social/@alice/113000000000000001", False),
        ("mastodon.social/users/alice/statuses/113000000000000001", False),
        ("https://fosstodon.org/@alice/113000000000000001", True),
        ("https://mastodon.social:8443/@alice/113000000000000001", True),
    ],
)
def test_a_mastodon_url_must_be_on_the_accounts_instance(url: str, refused: bool) -> None:
    def owned() -> str:
        return owned_post_id(
            "mastodon",
            "113000000000000001",
            username="alice@mastodon.social",
            account_id="109000000000000042",
            url=url,
        )

    if refused:
        with pytest.raises(PostUrlError, match=r"lives on mastodon\.social"):
            owned()
    else:
        assert owned() == "113000000000000001"


@pytest.mark.parametrize(
    "url",
    [
        "https://x.com/alice/status/\u0661\u0662\u0663",
        f"https://x.com/alice/status/{2**64}",
        "https://x.com/alice/status/1234567890123456789012345",
        "https://mastodon.social/@alice/\uff11\uff12",
    ],
)
def test_post_urls_with_ids_no_platform_has_are_refused(url: str) -> None:
    platform = "mastodon" if "mastodon" in url else "twitter"
    with pytest.raises(PostUrlError, match="is not"):
        post_id_from_url(platform, url)
