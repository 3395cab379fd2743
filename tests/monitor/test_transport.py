"""Transport and authentication: checklist items 1-9 and spec §3.1-3.4."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

from daqhub.core.auth import Principal
from tests.monitor.conftest import Api, log_record, make_run, make_stf

LIST_PATHS = [
    "/api/systemagents/",
    "/api/logs/",
    "/api/runs/",
    "/api/stf-files/",
    "/api/fastmon-files/",
    "/api/tf-slices/",
    "/api/workers/",
    "/api/run-states/",
    "/api/system-state-events/",
    "/api/subscribers/",
    "/api/message-dispatches/",
    "/api/workflows/",
    "/api/workflow-stages/",
    "/api/workflow-messages/",
    "/api/workflow-definitions/",
    "/api/workflow-executions/",
    "/api/namespaces/",
    "/api/logs/summary/",
]
POST_PATHS = [
    "/api/systemagents/heartbeat/",
    "/api/state/next-run-number/",
    "/api/state/next-agent-id/",
    "/api/state/next-workflow-execution-id/",
    "/api/namespaces/ensure/",
]


def test_every_route_answers_both_slash_forms_without_redirect(api: Api) -> None:
    run = make_run(api)
    api.post("/api/systemagents/heartbeat/", {"instance_name": "a1"})
    details = [f"/api/runs/{run['run_id']}/", "/api/systemagents/1/"]
    for path in LIST_PATHS + details:
        for variant in (path, path.rstrip("/")):
            response = api.client.get(variant, follow_redirects=False)
            assert response.status_code == 200, (variant, response.text)
        assert api.get(path).json() == api.get(path.rstrip("/")).json() or "summary" in path
    bodies = {
        "/api/systemagents/heartbeat/": {"instance_name": "a1"},
        "/api/namespaces/ensure/": {"name": "ns", "owner": "me"},
    }
    for path in POST_PATHS:
        for variant in (path, path.rstrip("/")):
            response = api.post(variant, bodies.get(path), follow_redirects=False)
            assert response.status_code in (200, 201), (variant, response.text)


def test_root_answers_200(api: Api) -> None:
    assert api.get("/").status_code == 200


def test_mount_prefix(make_api: Any) -> None:
    api = make_api(monitor={"prefix": "/swf-monitor"})
    assert api.get("/swf-monitor/").status_code == 200
    assert api.get("/swf-monitor").status_code == 200
    assert api.get("/swf-monitor/api/runs/").json() == []
    assert api.post("/swf-monitor/api/state/next-run-number").json()["run_number"] == 100010
    missing = api.get("/swf-monitor/api/nothing/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    "path",
    [
        "/api/systemagents/",
        "/api/runs/",
        "/api/stf-files/",
        "/api/subscribers/",
        "/api/message-dispatches/",
    ],
)
def test_anonymous_reads_are_json_arrays(api: Api, path: str) -> None:
    response = api.client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == []


def test_anonymous_write_is_403(api: Api) -> None:
    response = api.client.post("/api/runs/", json={"run_number": 1})
    assert response.status_code == 403
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert "www-authenticate" not in response.headers


def test_unknown_token_is_refused_even_on_reads(api: Api) -> None:
    response = api.client.get("/api/runs/", headers={"Authorization": "Token bogus"})
    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid token."}


def test_token_only_routes_challenge_with_401(api: Api) -> None:
    for path in ("/api/state/next-run-number/", "/api/state/next-agent-id/"):
        response = api.client.post(path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Token"
        assert response.json() == {"detail": "Authentication credentials were not provided."}
        bogus = api.client.post(path, headers={"Authorization": "Token bogus"})
        assert bogus.status_code == 401
        assert bogus.json() == {"detail": "Invalid token."}


def test_authentication_comes_before_the_method(api: Api) -> None:
    anonymous = api.client.get("/api/state/next-run-number/")
    assert anonymous.status_code == 401
    response = api.client.get("/api/state/next-run-number/", headers=api.auth)
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "GET" not allowed.'}
    assert "POST" in response.headers["allow"]
    put_anonymous = api.client.put("/api/runs/", json={})
    assert put_anonymous.status_code == 403
    put = api.client.put("/api/runs/", json={}, headers=api.auth)
    assert put.status_code == 405
    assert put.json() == {"detail": 'Method "PUT" not allowed.'}


def test_identity_headers_and_loopback_are_not_trusted(api: Api) -> None:
    response = api.client.post(
        "/api/runs/", json={"run_number": 1}, headers={"X-Remote-User": "admin"}
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_logs_are_open_for_post_and_get_only(api: Api) -> None:
    created = api.client.post("/api/logs/", json=log_record())
    assert created.status_code == 201
    log_id = created.json()["id"]
    assert api.client.patch(f"/api/logs/{log_id}/", json={"message": "x"}).status_code == 403
    assert api.client.delete(f"/api/logs/{log_id}/").status_code == 403
    # A stale or bogus token never makes log ingestion or reading fail.
    bogus = {"Authorization": "Token bogus"}
    assert api.client.post("/api/logs/", json=log_record(), headers=bogus).status_code == 201
    assert api.client.get("/api/logs/", headers=bogus).status_code == 200
    assert api.client.get(f"/api/logs/{log_id}/", headers=bogus).status_code == 200
    assert api.client.get("/api/logs/summary/", headers=bogus).status_code == 200
    patched = api.patch(f"/api/logs/{log_id}/", {"message": "edited"})
    assert patched.status_code == 200
    assert patched.json()["message"] == "edited"
    assert api.client.post("/api/logs/summary/").status_code == 405


def test_session_writes_need_a_csrf_token(api: Api) -> None:
    principal = Principal(token_id=0, token_name="session", scopes=frozenset({"monitor"}))

    def session(request: Request) -> Principal | None:
        return principal if request.cookies.get("sessionid") == "s1" else None

    api.state.auth.session = session
    api.client.cookies.set("sessionid", "s1")
    api.client.cookies.set("csrftoken", "c1")
    body = {"run_number": 5, "start_time": "2026-01-01T00:00:00Z"}
    refused = api.client.post("/api/runs/", json=body)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "CSRF Failed: CSRF token missing."}
    wrong = api.client.post("/api/runs/", json=body, headers={"X-CSRFToken": "c2"})
    assert wrong.status_code == 403
    accepted = api.client.post("/api/runs/", json=body, headers={"X-CSRFToken": "c1"})
    assert accepted.status_code == 201
    # A session also works on the session-or-token function routes, not on token-only ones.
    headers = {"X-CSRFToken": "c1"}
    sequence = api.client.post("/api/state/next-workflow-execution-id/", headers=headers)
    assert sequence.json() == {"sequence": 1, "status": "success"}
    assert api.client.post("/api/state/next-run-number/", headers=headers).status_code == 401


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Token", "Invalid token header. No credentials provided."),
        ("Token a b", "Invalid token header. Token string should not contain spaces."),
        ("Token 0123456789abcdef0123456789abcdef01234567", "Invalid token."),
    ],
)
def test_token_header_failures(api: Api, header: str, message: str) -> None:
    response = api.client.post("/api/runs/", json={}, headers={"Authorization": header})
    assert response.status_code == 403
    assert response.json() == {"detail": message}
    counter = api.client.post("/api/state/next-run-number/", headers={"Authorization": header})
    assert counter.status_code == 401
    assert counter.json() == {"detail": message}


def test_inactive_user_and_scopes(api: Api) -> None:
    inactive = api.new_token("old", scopes=["monitor"], username="bob", create_user=True)
    api.runtime.tokens.ensure_user("bob", is_active=False)
    response = api.client.get("/api/runs/", headers={"Authorization": f"Token {inactive}"})
    assert response.status_code == 403
    assert response.json() == {"detail": "User inactive or deleted."}
    other = api.new_token("dqm", scopes=["receiver"])
    headers = {"Authorization": f"Token {other}"}
    assert api.client.get("/api/runs/", headers=headers).status_code == 200
    refused = api.client.post("/api/runs/", json={}, headers=headers)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "You do not have permission to perform this action."}
    admin = api.new_token("root")  # no scope given: admin
    body = {"run_number": 7, "start_time": "2026-01-01T00:00:00Z"}
    ok = api.client.post("/api/runs/", json=body, headers={"Authorization": f"Token {admin}"})
    assert ok.status_code == 201


def test_other_schemes_are_ignored(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.token}"}
    assert api.client.get("/api/runs/", headers=headers).status_code == 200
    response = api.client.post("/api/runs/", json={}, headers=headers)
    assert response.status_code == 403
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_media_types_and_parse_errors(api: Api) -> None:
    text = api.client.post(
        "/api/runs/", content=b"hello", headers={**api.auth, "Content-Type": "text/plain"}
    )
    assert text.status_code == 415
    assert text.json() == {"detail": 'Unsupported media type "text/plain" in request.'}
    bad = api.client.post(
        "/api/runs/", content=b"{oops", headers={**api.auth, "Content-Type": "application/json"}
    )
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("JSON parse error - ")
    form = api.client.post(
        "/api/runs/",
        data={"run_number": "42", "start_time": "2026-01-01 00:00"},
        headers=api.auth,
    )
    assert form.status_code == 201, form.text
    assert form.json()["run_number"] == 42
    listed = api.client.post(
        "/api/runs/", content=b"[1]", headers={**api.auth, "Content-Type": "application/json"}
    )
    assert listed.status_code == 400
    assert listed.json() == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }


def test_body_size_limit(make_api: Any) -> None:
    api = make_api(monitor={"logs_body_limit": 2048, "body_limit": 4096})
    big = api.client.post("/api/logs/", json=log_record(message="x" * 3000))
    assert big.status_code == 413
    assert big.json() == {"detail": "Request body too large."}
    assert api.get("/api/logs/").json() == []
    runs = api.post("/api/runs/", {"run_number": 1, "run_conditions": {"x": "y" * 5000}})
    assert runs.status_code == 413


def test_head_and_options_on_get_routes(api: Api) -> None:
    run = make_run(api)
    for path in [*LIST_PATHS, f"/api/runs/{run['run_id']}/"]:
        head = api.client.head(path)
        assert head.status_code == 200, path
        options = api.client.options(path)
        assert options.status_code == 200, path
        assert "GET" in options.headers["allow"]
        assert "application/json" in options.json()["renders"]


def test_not_found_bodies(api: Api) -> None:
    missing = api.get("/api/runs/999/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "No Run matches the given query."}
    wrong_type = api.get("/api/stf-files/not-a-uuid/")
    assert wrong_type.status_code == 404
    assert wrong_type.json() == {"detail": "Not found."}
    run = make_run(api)
    stf = make_stf(api, run["run_id"])
    assert api.get(f"/api/stf-files/{stf['file_id']}/").status_code == 200
    gone = api.get("/api/stf-files/3c5e0a4e-8f1b-4a8e-9a2f-2b7d0c4f1e11/")
    assert gone.json() == {"detail": "No StfFile matches the given query."}


def test_unexpected_errors_have_a_generic_body(
    make_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = make_api(raise_server_exceptions=False)

    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr("daqhub.monitor.crud.list_objects", explode)
    response = api.get("/api/runs/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    assert "secret" not in response.text


def test_routes_are_counted_under_the_monitor_service(api: Api) -> None:
    api.get("/api/runs/")
    metrics = api.get("/metrics").text
    assert 'daqhub_monitor_requests_total{method="GET",route="/api/runs/",status="200"}' in metrics


def test_openapi_aliases(api: Api) -> None:
    schema = api.get("/api/schema/")
    assert schema.status_code == 200
    assert "openapi" in schema.json()
    assert api.get("/api/schema/swagger-ui/").status_code == 200
    assert api.get("/api/schema/redoc/").status_code == 200


def test_openapi_describes_the_monitor_routes(api: Api) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert set(paths["/api/runs/"]) == {"get", "post"}
    create = paths["/api/runs/"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["run_number", "start_time"]
    assert "run_id" not in body["properties"]
    assert {p["name"] for p in paths["/api/runs/"]["get"]["parameters"]} >= {
        "run_number",
        "limit",
    }
    assert "post" in paths["/api/state/next-run-number/"]
    assert api.get("/api/schema/").json()["paths"] == paths


def test_log_route_failures_have_a_generic_body(make_api: Any) -> None:
    api = make_api(raise_server_exceptions=False)

    async def broken(_values: Any) -> int:
        raise RuntimeError("secret internals")

    api.state.logs.write = broken
    response = api.client.post("/api/logs", json=log_record())
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    trace = api.client.request("TRACE", "/api/logs/")
    assert trace.status_code == 405
    assert trace.json() == {"detail": 'Method "TRACE" not allowed.'}
