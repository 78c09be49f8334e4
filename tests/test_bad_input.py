"""Bad input never yields a 500: every /v1 operation answers 4xx with ``{"error": str}``.

The operations are enumerated from the app's router, so a new endpoint is covered as soon
as it is mounted. An operation that takes a body must have a valid example in
``VALID_BODIES`` (the test says so when one is missing); each path parameter must be known
to ``PATH_IDS``.
"""

from __future__ import annotations

import itertools
import json
import re
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openpost.app import create_app
from openpost.config import Settings
from tests.builders import World
from tests.core.api_routes import (
    Operation,
    has_body,
    listing_app,
    openapi_document,
    openapi_operation,
    parameters,
    v1_operations,
)

OPERATIONS = v1_operations(listing_app())

# How a path parameter is filled with an id of the caller's own workspace.
PATH_IDS: dict[str, Callable[[World], uuid.UUID]] = {
    "post_id": lambda w: w.a.post.id,
    "integration_id": lambda w: w.a.integration.id,
    "target_id": lambda w: w.a.targets[0].id,
    "webhook_id": lambda w: w.a.webhook.id if w.a.webhook is not None else uuid.uuid4(),
}

_serial = itertools.count(1812345678901234567)

# A valid body for each operation that takes one (ids from workspace A).
VALID_BODIES: dict[tuple[str, str], Callable[[World], dict[str, Any]]] = {
    ("POST", "/v1/integrations"): lambda _w: {"platform": "bluesky", "username": "openpost.dev"},
    ("POST", "/v1/posts"): lambda w: {
        "content": "Hello",
        "tags": ["launch"],
        "targets": [
            # A new platform post each time: registering one twice is (rightly) a 400.
            {"integration_id": str(w.a.integration.id), "platform_post_id": str(next(_serial))}
        ],
    },
    ("POST", "/v1/analytics/refresh"): lambda w: {"post_id": str(w.a.post.id)},
    ("POST", "/v1/webhooks"): lambda _w: {
        "url": "https://hooks.example.com/openpost",
        "events": ["collection.failed", "integration.needs_refresh"],
        "description": "Alerts",
    },
}

BAD_QUERY_VALUES = [
    "0",
    "-1",
    "366",
    str(10**30),
    "1e3",
    "1.5",
    "abc",
    "",
    " ",
    "true",
    "null",
    "[]",
    "{}",
    "\x00",
    "a\x00b",
    "é",
    "😀",
    "\u202e",
    "' OR 1=1 --",
    "%",
    "%00",
    "x" * 2000,
]

MALFORMED_IDS = [
    "nope",
    "123",
    "0",
    "-1",
    "3a6f1c2e-8b7d-4e3f-9a1b-2c3d4e5f6a7",
    "3a6f1c2e-8b7d-4e3f-9a1b-2c3d4e5f6a7bb",
    "3a6f1c2e-8b7d-4e3f-9a1b-2c3d4e5f6a7g",
    "\x00",
    "é",
    "😀",
    "' OR 1=1 --",
    "null",
    "%20",
    "a" * 5000,
]

WRONG_JSON_VALUES: list[Any] = [
    None,
    0,
    -1,
    10**30,
    1.5,
    True,
    "",
    "\x00",
    "é😀\u202e",
    "x" * 20_000,
    [],
    [None],
    {},
    {"nested": {"deeper": [1]}},
]


def op_id(operation: Operation) -> str:
    return str(operation)


# A platform that cannot be reached (tests reach loopback only) is the service's answer to a
# valid request, not to bad input: accepted only where the valid request gets it too.
UPSTREAM_UNAVAILABLE = {502, 503, 504}


def assert_error_shape(
    response: httpx.Response, where: str, baseline: httpx.Response | None = None
) -> None:
    upstream = (
        baseline is not None
        and baseline.status_code in UPSTREAM_UNAVAILABLE
        and response.status_code == baseline.status_code
    )
    assert response.status_code < 500 or upstream, (
        f"{where}: {response.status_code} {response.text[:300]}"
    )
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json"), where
        body = response.json()
        assert isinstance(body, dict), where
        assert set(body) == {"error"}, f"{where}: {body}"
        assert isinstance(body["error"], str), where
        assert body["error"], where


def fill_path(operation: Operation, world: World, **override: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in override:
            return urllib.parse.quote(override[name], safe="")
        assert name in PATH_IDS, (
            f"{operation}: path parameter {name!r} is unknown to tests/test_bad_input.py; "
            "add it to PATH_IDS"
        )
        return str(PATH_IDS[name](world))

    return re.sub(r"\{([^}]+)\}", replace, operation.path)


def valid_body(operation: Operation, world: World) -> dict[str, Any]:
    assert operation.key in VALID_BODIES, (
        f"{operation} takes a body but has no example in VALID_BODIES of "
        "tests/test_bad_input.py: add one so its bad-input checks run"
    )
    return VALID_BODIES[operation.key](world)


def call(
    client: TestClient,
    operation: Operation,
    world: World,
    *,
    path: str | None = None,
    params: Any = None,
    body: Any = None,
    headers: dict[str, str | bytes] | None = None,
) -> httpx.Response:
    """Call ``operation`` as workspace A; operations with a body get a valid one by default."""
    all_headers: dict[str, str | bytes] = dict(world.a.headers)
    kwargs: dict[str, Any] = {}
    if has_body(operation):  # type: ignore[arg-type]
        content = body if body is not None else valid_body(operation, world)
        kwargs["content"] = json.dumps(content) if not isinstance(content, bytes) else content
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    return client.request(
        operation.method,
        path or fill_path(operation, world),
        params=params,
        headers=all_headers,
        **kwargs,
    )


def test_every_v1_operation_is_listed() -> None:
    assert {op.key for op in OPERATIONS} >= {
        ("GET", "/v1/analytics"),
        ("GET", "/v1/analytics/post/{post_id}"),
    }


def test_body_examples_are_accepted_or_refused_cleanly(client: TestClient, world: World) -> None:
    """The examples in VALID_BODIES are the baseline the body checks vary; none is a 500."""
    for operation in OPERATIONS:
        if has_body(operation):  # type: ignore[arg-type]
            response = call(client, operation, world)
            assert_error_shape(response, str(operation), baseline=response)


# --- query parameters --------------------------------------------------------------------

QUERY_CASES = [
    (operation, param["name"])
    for operation in OPERATIONS
    for param in parameters(operation, "query")
]


@pytest.mark.parametrize(
    ("operation", "name"), QUERY_CASES, ids=[f"{op}?{name}" for op, name in QUERY_CASES]
)
def test_bad_query_values_are_4xx_naming_the_field(
    client: TestClient, world: World, operation: Operation, name: str
) -> None:
    for value in BAD_QUERY_VALUES:
        response = call(client, operation, world, params={name: value})
        where = f"{operation} ?{name}={value[:40]!r}"
        assert_error_shape(response, where)
        if response.status_code == 400:
            assert name in response.json()["error"], f"{where}: {response.json()}"


@pytest.mark.parametrize("operation", OPERATIONS, ids=op_id)
def test_huge_and_repeated_query_strings(
    client: TestClient, world: World, operation: Operation
) -> None:
    names = [p["name"] for p in parameters(operation, "query")]  # type: ignore[arg-type]
    baseline = call(client, operation, world)
    huge = "x" * 64_000  # the client refuses URLs of 64 KiB and more
    for name in [*names, "unknown"]:
        response = call(client, operation, world, params={name: huge})
        assert_error_shape(response, f"{operation} ?{name}=<64 KB>", baseline)
        repeated = [(name, "1"), (name, "2"), (name, "abc"), (name, "")]
        response = call(client, operation, world, params=repeated)
        assert_error_shape(response, f"{operation} ?{name} repeated", baseline)
    many = [(f"p{n}", "v") for n in range(2000)]
    response = call(client, operation, world, params=many)
    assert_error_shape(response, f"{operation} 2000 params", baseline)


GET_OPERATIONS = [op for op in OPERATIONS if op.method == "GET"]


@pytest.mark.parametrize("operation", GET_OPERATIONS, ids=op_id)
def test_fuzzed_query_strings_never_500(
    client: TestClient, world: World, operation: Operation
) -> None:
    names = [p["name"] for p in parameters(operation, "query")]  # type: ignore[arg-type]
    text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
    numbers = st.integers(min_value=-(10**20), max_value=10**20).map(str)
    query = st.lists(
        st.tuples(st.sampled_from([*names, "limit", "cursor", "x"]), st.one_of(text, numbers)),
        max_size=6,
    )

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(query)
    def check(pairs: list[tuple[str, str]]) -> None:
        response = call(client, operation, world, params=pairs)
        assert_error_shape(response, f"{operation} ?{urllib.parse.urlencode(pairs)[:200]}")

    check()


# --- path parameters ---------------------------------------------------------------------

PATH_CASES = [
    (operation, param["name"])
    for operation in OPERATIONS
    for param in parameters(operation, "path")
]


@pytest.mark.parametrize(
    ("operation", "name"), PATH_CASES, ids=[f"{op}:{name}" for op, name in PATH_CASES]
)
def test_malformed_path_ids_are_400_naming_the_field(
    client: TestClient, world: World, operation: Operation, name: str
) -> None:
    for value in MALFORMED_IDS:
        response = call(client, operation, world, path=fill_path(operation, world, **{name: value}))
        where = f"{operation} {name}={value[:40]!r}"
        assert_error_shape(response, where)
        assert response.status_code == 400, f"{where}: {response.status_code}"
        assert name in response.json()["error"], f"{where}: {response.json()}"

    unknown = fill_path(operation, world, **{name: str(uuid.uuid4())})
    response = call(client, operation, world, path=unknown)
    assert_error_shape(response, f"{operation} {name}=<unknown uuid>")
    assert response.status_code == 404, f"{operation} {name}=<unknown uuid>"


# --- bodies ------------------------------------------------------------------------------

BODY_OPERATIONS = [op for op in OPERATIONS if has_body(op)]


def _schema_properties(operation: Operation) -> list[str]:
    body = openapi_operation(operation).get("requestBody", {})
    schema = body.get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = openapi_document()["components"]["schemas"][name]
    return list(schema.get("properties", {}))


@pytest.mark.parametrize("operation", BODY_OPERATIONS, ids=op_id)
def test_bodies_that_are_not_json_objects(
    client: TestClient, world: World, operation: Operation
) -> None:
    for raw in (b"", b"{", b"not json", b"\x00\xff", b"[", b'{"a": }', b"nul", "é".encode()):
        response = call(client, operation, world, body=raw)
        assert_error_shape(response, f"{operation} body={raw!r}")
        assert response.status_code == 400, f"{operation} body={raw!r}"
    for value in ([], [1], "text", 1, None, True):
        response = call(client, operation, world, body=json.dumps(value).encode())
        assert_error_shape(response, f"{operation} body={value!r}")
        assert response.status_code == 400, f"{operation} body={value!r}"
    deep = b"[" * 50_000 + b"]" * 50_000
    response = call(client, operation, world, body=deep)
    assert_error_shape(response, f"{operation} deeply nested body")
    assert response.status_code == 400


@pytest.mark.parametrize("operation", BODY_OPERATIONS, ids=op_id)
def test_wrong_content_types_are_415(
    client: TestClient, world: World, operation: Operation
) -> None:
    body = json.dumps(valid_body(operation, world)).encode()
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonp",
        "",
    ):
        response = call(client, operation, world, body=body, headers={"Content-Type": content_type})
        assert_error_shape(response, f"{operation} Content-Type: {content_type!r}")
        assert response.status_code == 415, f"{operation} Content-Type: {content_type!r}"
    accepted = call(
        client,
        operation,
        world,
        body=body,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert accepted.status_code != 415


@pytest.mark.parametrize("operation", BODY_OPERATIONS, ids=op_id)
def test_wrong_field_values_are_4xx_naming_the_field(
    client: TestClient, world: World, operation: Operation
) -> None:
    properties = _schema_properties(operation)
    assert properties, f"{operation}: its body schema documents no properties"
    baseline = call(client, operation, world)
    for name in properties:
        for value in WRONG_JSON_VALUES:
            body = {**valid_body(operation, world), name: value}
            response = call(client, operation, world, body=body)
            where = f"{operation} {name}={json.dumps(value)[:40]}"
            assert_error_shape(response, where, baseline)
            if response.status_code == 400 and response.text != baseline.text:
                assert name in response.json()["error"], f"{where}: {response.json()}"
    unknown = call(client, operation, world, body={**valid_body(operation, world), "zz": 1})
    assert_error_shape(unknown, f"{operation} unknown field")
    assert unknown.status_code == 400, f"{operation}: an unknown body field is accepted"


@pytest.mark.parametrize("operation", BODY_OPERATIONS, ids=op_id)
def test_bad_idempotency_keys_are_400(
    client: TestClient, world: World, operation: Operation
) -> None:
    for key in ("", "x" * 256, "é", "a\tb"):
        response = call(client, operation, world, headers={"Idempotency-Key": key.encode()})
        where = f"{operation} Idempotency-Key={key[:20]!r}"
        assert_error_shape(response, where)
        assert response.status_code == 400, where
        assert "Idempotency-Key" in response.json()["error"], where


# --- body size ---------------------------------------------------------------------------


@pytest.fixture
def small_body_client(database_url: str, tmp_path: Any, engine: Any) -> Iterator[TestClient]:
    settings_ = Settings(
        env="test",
        database_url=database_url,
        data_dir=tmp_path,
        secret_key="test-secret-key-0123456789",
        max_body_bytes=2048,
    )
    application = create_app(settings_)
    with TestClient(application, raise_server_exceptions=False) as test_client:
        yield test_client
    application.state.engine.dispose()


def _padded_body(operation: Operation, world: World, size: int) -> bytes:
    """A valid body grown past ``size`` bytes with an unknown field (it is read, then refused)."""
    body = valid_body(operation, world) if operation.key in VALID_BODIES else {}
    return json.dumps({**body, "padding": "x" * size}).encode()


@pytest.mark.parametrize("operation", OPERATIONS, ids=op_id)
def test_oversized_bodies_are_413(
    small_body_client: TestClient, world: World, operation: Operation
) -> None:
    body = _padded_body(operation, world, 4096)
    response = small_body_client.request(
        operation.method,
        fill_path(operation, world),
        content=body,
        headers={**world.a.headers, "Content-Type": "application/json"},
    )
    assert response.request.headers["content-length"] == str(len(body))
    assert_error_shape(response, f"{operation} 4 KB body over a 2 KB limit")
    assert response.status_code == 413, f"{operation}: {response.status_code}"
    assert response.json() == {"error": "request body too large"}


@pytest.mark.parametrize("operation", BODY_OPERATIONS, ids=op_id)
def test_chunked_bodies_over_the_limit_are_413(
    small_body_client: TestClient, world: World, operation: Operation
) -> None:
    body = _padded_body(operation, world, 8192)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    headers = {**world.a.headers, "Content-Type": "application/json"}
    for extra in ({}, {"Idempotency-Key": f"chunked-{uuid.uuid4()}"}):
        response = small_body_client.request(
            operation.method,
            fill_path(operation, world),
            content=chunks(),
            headers={**headers, **extra},
        )
        where = f"{operation} chunked 8 KB body {extra}"
        assert "content-length" not in {k.lower() for k in response.request.headers}
        assert_error_shape(response, where)
        assert response.status_code == 413, f"{where}: {response.status_code} {response.text}"
        assert response.json() == {"error": "request body too large"}


def test_bodies_under_the_limit_pass(small_body_client: TestClient, world: World) -> None:
    """The 413 is about size: the same route answers a small request normally."""
    response = small_body_client.get("/v1/analytics", headers=world.a.headers)
    assert response.status_code == 200


@pytest.mark.parametrize("content_length", ["abc", "-1", "1.5", "", "9" * 40])
def test_invalid_content_length_is_4xx(
    client: TestClient, world: World, content_length: str
) -> None:
    response = client.get(
        "/v1/analytics", headers={**world.a.headers, "Content-Length": content_length}
    )
    assert_error_shape(response, f"Content-Length: {content_length!r}")
    assert response.status_code in (400, 413)


# --- unknown paths and methods -----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/nope", "/v1", "/v1/nope", "/v1/analytics/nope/deeper", "/v1/analytics/post", "/%00", "/é"],
)
def test_unknown_paths_are_404_json(client: TestClient, world: World, path: str) -> None:
    for headers in ({}, world.a.headers):
        response = client.get(path, headers=headers)
        assert response.status_code == 404, path
        assert response.json() == {"error": "not found"}


@pytest.mark.parametrize("operation", OPERATIONS, ids=op_id)
def test_wrong_methods_are_405_json(client: TestClient, world: World, operation: Operation) -> None:
    allowed = {op.method for op in OPERATIONS if op.path == operation.path}
    path = fill_path(operation, world)
    for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - allowed:
        response = client.request(method, path, headers=world.a.headers)
        assert response.status_code == 405, f"{method} {operation.path}"
        assert response.json() == {"error": "method not allowed"}
        # Starlette's Allow names the methods of the first route matching the path only.
        assert response.headers.get("allow"), f"{method} {operation.path}"


def test_nul_characters_in_bodies_are_400_naming_the_field(
    client: TestClient, world: World
) -> None:
    """PostgreSQL text cannot hold NUL: it is refused up front, whatever the engine."""
    operation = next(op for op in BODY_OPERATIONS if op.key == ("POST", "/v1/posts"))
    body = valid_body(operation, world)
    body["targets"][0]["platform_post_id"] = "12\x0034"
    response = call(client, operation, world, body=body)
    assert response.status_code == 400
    assert response.json() == {
        "error": "targets.0.platform_post_id must not contain NUL characters"
    }

    # A backslash followed by "u0000" is ordinary text, not a NUL.
    body = {**valid_body(operation, world), "content": "JSON writes NUL as \\u0000"}
    assert json.dumps(body).count("\\\\u0000") == 1
    response = call(client, operation, world, body=body)
    assert response.status_code == 201, response.text
