from fastapi.testclient import TestClient

from tests.builders import World


def test_analytics_lists_own_snapshots(client: TestClient, world: World) -> None:
    response = client.get("/v1/analytics", headers=world.a.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [row["impressions"] for row in body["data"]] == [150, 100]
    assert {row["post_id"] for row in body["data"]} == {str(world.a.post.id)}
    assert body["next_cursor"] is None


def test_post_metrics(client: TestClient, world: World) -> None:
    response = client.get(f"/v1/analytics/post/{world.a.post.id}", headers=world.a.headers)
    assert response.status_code == 200, response.text
    body = response.json()["data"]
    counters = {k: body["totals"][k] for k in ("impressions", "likes", "comments", "shares")}
    assert counters == {"impressions": 150, "likes": 12, "comments": 1, "shares": 0}
    assert body["totals"]["engagements"] == 13
    assert body["totals"]["engagement_rate"] == round(13 / 150, 6)
    # followers from the account snapshot read before the reading (500: builders)
    assert body["totals"]["engagement_rate_by_followers"] == round(13 / 500, 6)
    assert body["targets"][0]["engagement_rate_by_followers"] == round(13 / 500, 6)
    assert body["targets"][0]["delta"] == {
        "impressions": 50,
        "likes": 2,
        "comments": 0,
        "shares": 0,
    }
