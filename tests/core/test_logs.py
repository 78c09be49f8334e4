import io
import json
import logging

import httpx
import pytest

from openpost.core.logs import JsonFormatter, configure_logging


@pytest.fixture
def restore_logging() -> object:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_lines_are_json_with_extra_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "openpost.request", "levelname": "INFO", "msg": "request", "status": 200}
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "request"
    assert line["status"] == 200
    assert line["level"] == "info"


def test_http_client_urls_with_keys_never_reach_the_log(restore_logging: object) -> None:
    configure_logging("INFO")
    stream = io.StringIO()
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]

    def answer(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={})

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        client.get("https://example.invalid/v3/videos", params={"key": "secret-api-key-123"})
    assert "secret-api-key-123" not in stream.getvalue()
