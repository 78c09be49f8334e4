"""The dashboard's Accounts page (SPEC §9.4): its figures are the API's
(``GET /v1/analytics/accounts/{id}``), null is "—" (never 0), a foreign account is a 404,
and it is linked from the navigation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openpost.core import clock
from tests.builders import World, add_account_snapshot, make_integration
from tests.dashboard.conftest import Members, sign_in

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def frozen() -> Iterator[datetime]:
    clock.set_clock(lambda: NOW)
    yield NOW
    clock.set_clock(None)


def _section(html: str, integration_id: str) -> str:
    start = html.index(f'data-account-id="{integration_id}"')
    end = html.find("<section", start)
    return html[start : end if end > 0 else len(html)]


def test_the_page_shows_the_apis_figures(
    client: TestClient, session: Session, world: World, members: Members, frozen: datetime
) -> None:
    a = world.a.integration
    youtube = make_integration(session, world.a.workspace, platform="youtube", username="chan")
    for n, followers in enumerate((120, 150, 149, 180)):
        add_account_snapshot(session, a, NOW - (40 - 10 * n) * DAY, followers=followers)
    add_account_snapshot(session, youtube, NOW - DAY, followers=None, following=None, posts=0)
    session.commit()
    sign_in(client, session, members.a["viewer"])
    response = client.get("/accounts?days=30")
    assert response.status_code == 200, response.text
    html = response.text
    assert 'href="/accounts" aria-current="page"' in html
    api = client.get(
        f"/v1/analytics/accounts/{a.id}", params={"days": 30}, headers=world.a.headers
    ).json()["data"]
    mine = _section(html, str(a.id))
    followers = mine[mine.index('data-counter="followers"') :]
    latest = re.search(r"data-latest>([^<]+)<", followers)
    assert latest is not None
    assert latest.group(1) == f"{api['followers']:,}"
    assert f"{api['delta']['followers']:+,}" in followers  # since the previous reading
    assert f"{api['period']['followers']:+,}" in followers  # the last 30 days
    assert "data-followers-chart" in mine
    # YouTube: following is not reported ("—"), followers hidden: never shown as 0.
    theirs = _section(html, str(youtube.id))
    following = theirs[theirs.index('data-counter="following"') :]
    assert re.search(r"data-latest><span class=\"num\" title=\"not reported", following)
    assert "does not report followers" in theirs
    assert "0 followers" not in theirs


def test_a_foreign_account_is_404_and_bad_days_400(
    client: TestClient, session: Session, world: World, members: Members, frozen: datetime
) -> None:
    sign_in(client, session, members.a["viewer"])
    assert client.get(f"/accounts?integration={world.b.integration.id}").status_code == 404
    assert client.get("/accounts?integration=nope").status_code == 400
    assert client.get("/accounts?days=12").status_code == 400
    one = client.get(f"/accounts?integration={world.a.integration.id}&days=7")
    assert one.status_code == 200
    assert str(world.b.integration.id) not in one.text


def test_the_export_link_gives_the_account_rows(
    client: TestClient, session: Session, world: World, members: Members, frozen: datetime
) -> None:
    mine = add_account_snapshot(session, world.a.integration, NOW - DAY, followers=7)
    add_account_snapshot(session, world.b.integration, NOW - DAY, followers=8)
    session.commit()
    sign_in(client, session, members.a["viewer"])
    html = client.get("/accounts").text
    link = re.search(r'href="(/export\.csv\?view=accounts[^"]*)"', html)
    assert link is not None
    response = client.get(link.group(1).replace("&amp;", "&"))
    assert response.status_code == 200, response.text
    lines = response.text.strip().split("\r\n")
    assert lines[0].startswith("snapshot_id,captured_at,integration_id")
    assert len(lines) == 2  # this workspace's one account snapshot in range
    assert lines[1].startswith(f"{mine.id},")


def _shown(html: str) -> list[str]:
    return re.findall(r'data-account-id="([^"]+)"', html)


def test_many_accounts_are_paged_and_found_by_search(
    client: TestClient,
    session: Session,
    world: World,
    members: Members,
    frozen: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("openpost.dashboard.accounts_page.MAX_ACCOUNTS", 2)
    monkeypatch.setattr("openpost.dashboard.accounts_page.PICKER_MAX", 3)
    for n in range(4):
        make_integration(session, world.a.workspace, username=f"team{n}")
    make_integration(session, world.b.workspace, username="team_other")
    session.commit()
    sign_in(client, session, members.a["viewer"])
    first = client.get("/accounts?days=7")
    assert first.status_code == 200, first.text
    # Five accounts, more than the picker lists: a search box, no list of every account.
    assert 'name="q"' in first.text
    assert 'name="integration"' not in first.text
    assert "Accounts 1\N{EN DASH}2 of 5" in first.text
    assert 'rel="next" href="/accounts?days=7&amp;page=2"' in first.text
    pages = [_shown(client.get(f"/accounts?days=7&page={n}").text) for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [2, 2, 1]
    every = [i for p in pages for i in p]
    assert len(set(every)) == 5
    assert str(world.b.integration.id) not in every
    past = client.get("/accounts?page=9")
    assert past.status_code == 200
    assert _shown(past.text) == []
    assert "No accounts on page 9: there are 3 pages." in past.text
    assert '<a href="/accounts?days=30&amp;page=3">Go to page 3</a>' in past.text
    assert 'class="pager"' not in past.text  # no "Previous" into more empty pages
    found = client.get("/accounts?q=TEAM&days=7")
    assert len(_shown(found.text)) == 2
    assert "Accounts 1\N{EN DASH}2 of 4" in found.text
    assert 'href="/accounts?days=7&amp;q=TEAM&amp;page=2"' in found.text
    nothing = client.get("/accounts?q=team_other")  # another workspace's account
    assert _shown(nothing.text) == []
    assert "No account's handle or name contains" in nothing.text
    assert _shown(client.get("/accounts?q=%25").text) == []  # "%" is a character, not LIKE's
    assert client.get("/accounts?page=0").status_code == 400
    assert client.get("/accounts?q=" + "x" * 201).status_code == 400


def test_a_few_accounts_keep_the_picker(
    client: TestClient, session: Session, world: World, members: Members, frozen: datetime
) -> None:
    other = make_integration(session, world.a.workspace, username="second")
    session.commit()
    sign_in(client, session, members.a["viewer"])
    html = client.get("/accounts").text
    assert 'name="integration"' in html
    assert 'name="q"' not in html
    assert f'<option value="{other.id}">' in html
    assert 'class="pager"' not in html  # one page
