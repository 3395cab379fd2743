"""The app factory: listeners, core routes, the shared 404 body, no redirects, the home page."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from daqhub.core.service import Listener, parse_listener


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("127.0.0.1:8000", Listener("127.0.0.1", 8000, None)),
        ("0.0.0.0:5000=connectivity", Listener("0.0.0.0", 5000, frozenset({"connectivity"}))),
        (
            "[::1]:10002=broker,broker-slow",
            Listener("::1", 10002, frozenset({"broker", "broker-slow"})),
        ),
        (":0", Listener("127.0.0.1", 0, None)),
    ],
)
def test_parse_listener(spec: str, expected: Listener) -> None:
    assert parse_listener(spec) == expected


@pytest.mark.parametrize("spec", ["nope", "host:port", "1.2.3.4:99999", "h:1=unknown"])
def test_bad_listener(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_listener(spec)


def test_core_routes(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").headers["content-type"].startswith("text/plain")
    assert client.get("/docs").status_code == 200
    assert client.get("/redoc").status_code == 200
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "daqhub"


def test_unmatched_paths_answer_the_shared_json_404(client: TestClient) -> None:
    response = client.get("/definitely/not/here")
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found", "status": 404}


def test_no_trailing_slash_redirects(client: TestClient) -> None:
    response = client.get("/healthz/", follow_redirects=False)
    assert response.status_code == 404


def test_home_page_navigation_then_dump_then_statistics(client: TestClient) -> None:
    page = client.get("/").text
    nav = page.index("<nav>")
    dump = page.index("Dump of configuration dictionary")
    stats = page.index("Connection server statistics")
    assert nav < dump < stats
    assert "strike" not in page
    assert client.head("/").status_code == 200


def test_request_metrics_use_route_templates(client: TestClient) -> None:
    client.post("/getconnection/some-partition", content=b"{}")
    text = client.get("/metrics").text
    assert 'route="/getconnection/{partition}"' in text
    assert "some-partition" not in text
