"""Publish and lookup: compatibility checklist items 1-18, 31 and 35 (spec/connectivity.md §5)."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from tests.connectivity.conftest import CC_TEST, UIDS, lookup, post

KEYS = ["uid", "uri", "connection_type", "data_type", "capacity"]


def test_root_is_the_dump_page(client: TestClient) -> None:  # item 1
    response = client.get("/")
    assert response.status_code == 200
    assert "Dump of configuration dictionary" in response.text


def test_publish_answers_ok(client: TestClient) -> None:  # item 2
    response = post(client, "/publish", CC_TEST)
    assert response.status_code == 200
    assert response.text == "OK"
    assert response.headers["content-type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/octet-stream"])
def test_publish_ignores_content_type(client: TestClient, content_type: str | None) -> None:  # 3
    headers = {"Content-Type": content_type} if content_type else {}
    response = post(client, "/publish", CC_TEST, headers=headers)
    assert response.status_code == 200
    assert [e["uid"] for e in lookup(client, "ccTest", "DRO.*").json()] == UIDS


def test_get_publish_is_405(client: TestClient) -> None:  # item 4
    response = client.get("/publish")
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]


def test_lookup_returns_both_in_publish_order(published: TestClient) -> None:  # item 5
    response = lookup(published, "ccTest", "DRO.*")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert [e["uid"] for e in body] == UIDS


def test_lookup_elements_have_exactly_five_typed_keys(published: TestClient) -> None:  # item 6
    response = lookup(published, "ccTest", "DRO.*")
    for element in response.json():
        assert list(element) == KEYS
        assert type(element["connection_type"]) is int and element["connection_type"] == 0
        assert type(element["capacity"]) is int and element["capacity"] == 0
    # compact, like the original, byte for byte
    assert response.text.startswith(
        '[{"uid":"DRO-000-tp_to_trigger","uri":"tcp://192.168.1.100:1234",'
    )


def test_lookup_with_get_and_a_body(published: TestClient) -> None:  # item 7
    body = {"uid_regex": "DRO.*", "data_type": "TPSet"}
    by_get = post(published, "/getconnection/ccTest", body, method="GET")
    by_post = post(published, "/getconnection/ccTest", body)
    assert by_get.status_code == 200
    assert by_get.json() == by_post.json()
    assert len(by_get.json()) == 2


@pytest.mark.parametrize(
    ("regex", "data_type", "expected"),
    [
        ("DUMMY.*", "TPSet", []),
        ("000", "TPSet", []),
        ("DRO-000-tp_to_trigger", "TPSet", ["DRO-000-tp_to_trigger"]),
        ("DRO-00[1-4]-tp_to_trigger", "TPSet", ["DRO-001-tp_to_trigger"]),
        ("DRO.*", "TPSets", []),
        ("DRO.*", "tpset", []),
        ("(DRO-001|DRO-000)-tp_to_trigger", "TPSet", UIDS),
        (".*", "TPSet", UIDS),
        ("(?i)dro-000.*", "TPSet", ["DRO-000-tp_to_trigger"]),
    ],
)
def test_full_match_and_data_type_filter(
    published: TestClient, regex: str, data_type: str, expected: list[str]
) -> None:  # item 8
    response = lookup(published, "ccTest", regex, data_type)
    assert response.status_code == 200
    assert [e["uid"] for e in response.json()] == expected


@pytest.mark.parametrize(
    "body",
    [
        b'{"data_type":"TPSet"}',
        b'{"uid_regex":"DRO.*"}',
        b"",
        b"not json",
        b"[1,2]",
        b'{"uid_regex":5,"data_type":"TPSet"}',
        b'{"uid_regex":"DRO.*","data_type":null}',
    ],
)
def test_bad_lookup_bodies_are_400(published: TestClient, body: bytes) -> None:  # item 9
    response = post(published, "/getconnection/ccTest", body)
    assert response.status_code == 400
    assert response.json()["error"] in ("bad_request", "invalid_json")


@pytest.mark.parametrize("regex", ["DRO-(", "(?=DRO)", "(a)\\1", "x" * 1025])
def test_invalid_or_unsafe_regex_is_400_invalid_regex(published: TestClient, regex: str) -> None:
    response = lookup(published, "ccTest", regex)  # item 10
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_regex"


def test_invalid_regex_message_names_the_problem(published: TestClient) -> None:
    response = lookup(published, "ccTest", "DRO-(")
    assert response.json()["message"] == "Invalid uid_regex 'DRO-(': missing closing )"


def test_catastrophic_pattern_is_fast(client: TestClient) -> None:  # item 11
    uid = "a" * 30 + "b"
    body = {
        "partition": "redos",
        "connections": [{"uid": uid, "uri": "u", "data_type": "T", "connection_type": 0}],
    }
    assert post(client, "/publish", body).status_code == 200
    # RE2 is linear: a backtracking engine would need ~2^30 steps here and never answer.
    response = lookup(client, "redos", "(a+)+$", "T")
    assert response.status_code == 200
    assert response.json() == []
    assert lookup(client, "redos", "(a+)+b", "T").json()[0]["uid"] == uid


@pytest.mark.parametrize(
    "path",
    ["/getconnection/unknownPart", "/getconnection/bad/con", "/getconnection/", "/getconnection"],
)
def test_unknown_partition_and_bad_paths_are_404(published: TestClient, path: str) -> None:
    response = post(published, path, {"uid_regex": "DRO.*", "data_type": "TPSet"})  # item 12
    assert response.status_code == 404


def test_unknown_partition_message(client: TestClient) -> None:
    response = lookup(client, "unknownPart", "DRO.*")
    assert response.json() == {"error": "not_found", "message": "Partition unknownPart not found"}


def test_republish_keeps_position_and_replaces_fields(published: TestClient) -> None:  # item 13
    changed = {
        "partition": "ccTest",
        "connections": [
            {
                "uid": "DRO-000-tp_to_trigger",
                "uri": "tcp://10.0.0.1:9",
                "data_type": "TPSet",
                "connection_type": 0,
                "capacity": 5,
            }
        ],
    }
    assert post(published, "/publish", changed).status_code == 200
    body = lookup(published, "ccTest", "DRO.*").json()
    assert [e["uid"] for e in body] == UIDS
    assert body[0]["uri"] == "tcp://10.0.0.1:9" and body[0]["capacity"] == 5
    changed["connections"][0]["data_type"] = "Other"
    assert post(published, "/publish", changed).status_code == 200
    assert [e["uid"] for e in lookup(published, "ccTest", "DRO.*").json()] == [
        "DRO-001-tp_to_trigger"
    ]
    other = lookup(published, "ccTest", "DRO.*", "Other").json()
    assert [e["uid"] for e in other] == ["DRO-000-tp_to_trigger"]


def test_repeated_uid_in_one_request_later_wins_first_position(client: TestClient) -> None:
    body = {
        "partition": "dup",
        "connections": [
            {"uid": "a", "uri": "first", "data_type": "T", "connection_type": 0},
            {"uid": "b", "uri": "b", "data_type": "T", "connection_type": 0},
            {"uid": "a", "uri": "second", "data_type": "T", "connection_type": 1},
        ],
    }
    assert post(client, "/publish", body).status_code == 200
    result = lookup(client, "dup", ".*", "T").json()
    assert [(e["uid"], e["uri"], e["connection_type"]) for e in result] == [
        ("a", "second", 1),
        ("b", "b", 0),
    ]


def test_empty_publish_creates_partition(client: TestClient) -> None:  # item 14
    assert post(client, "/publish", {"partition": "p2", "connections": []}).status_code == 200
    response = lookup(client, "p2", ".*")
    assert response.status_code == 200
    assert response.json() == []


MALFORMED_PUBLISHES = [
    {"partition": "ccTest", "connections": [{"uid": "x", "uri": "u", "data_type": "T"}]},
    {"partition": "ccTest", "connections": [{"uid": "x", "uri": "u", "connection_type": 0}]},
    {
        "partition": "ccTest",
        "connections": [{"uid": "x", "uri": "u", "data_type": "T", "connection_type": True}],
    },
    {
        "partition": "ccTest",
        "connections": [{"uid": "x", "uri": "u", "data_type": "T", "connection_type": "kNope"}],
    },
    {
        "partition": "ccTest",
        "connections": [
            {"uid": "x", "uri": "u", "data_type": "T", "connection_type": 0, "capacity": -1}
        ],
    },
    {
        "partition": "ccTest",
        "connections": [{"uid": "", "uri": "u", "data_type": "T", "connection_type": 0}],
    },
    {
        "partition": "ccTest",
        "connections": [{"uid": 7, "uri": "u", "data_type": "T", "connection_type": 0}],
    },
    {
        "partition": "ccTest",
        "connections": [{"uid": "x", "uri": "u", "data_type": 3, "connection_type": 0}],
    },
    {
        "partition": "ccTest",
        "connections": [{"uid": "x\u0000", "uri": "u", "data_type": "T", "connection_type": 0}],
    },
    {
        "partition": "ccTest",
        "connections": [{"uid": "x" * 1025, "uri": "u", "data_type": "T", "connection_type": 0}],
    },
    {  # 600 characters but 2,400 bytes: too long for a database index key
        "partition": "ccTest",
        "connections": [
            {"uid": "\U0001f600" * 600, "uri": "u", "data_type": "T", "connection_type": 0}
        ],
    },
    {"partition": "ccTest", "connections": "nope"},
    {"partition": "ccTest"},
    {"connections": []},
    {"partition": "", "connections": []},
    {"partition": 5, "connections": []},
    {"partition": "a", "session": "b", "connections": []},
    {"partition": "p" * 257, "connections": []},
]


@pytest.mark.parametrize("body", MALFORMED_PUBLISHES)
def test_malformed_publish_is_400_stores_nothing_and_never_blocks(
    published: TestClient, body: dict[str, object]
) -> None:  # item 15 and spec §3.1
    # A valid element before the bad one must not be stored either.
    if isinstance(body.get("connections"), list) and body["connections"]:
        body = {
            **body,
            "connections": [
                {"uid": "early", "uri": "u", "data_type": "T", "connection_type": 0},
                *body["connections"],
            ],
        }  # type: ignore[list-item]
    response = post(published, "/publish", body)
    assert response.status_code == 400
    assert lookup(published, "ccTest", "early", "T").json() == []
    # The very next requests work.
    assert post(published, "/publish", CC_TEST).status_code == 200
    assert len(lookup(published, "ccTest", "DRO.*").json()) == 2


def test_error_message_names_index_and_field(client: TestClient) -> None:
    body = {
        "partition": "p",
        "connections": [
            {"uid": "a", "uri": "u", "data_type": "T", "connection_type": 0},
            {"uid": "b", "uri": "u", "connection_type": 0},
        ],
    }
    assert post(client, "/publish", body).json() == {
        "error": "bad_request",
        "message": "connections[1]: missing 'data_type'",
    }


def test_elements_without_uid_or_uri_are_skipped(client: TestClient) -> None:  # item 16
    body = {
        "partition": "skip",
        "connections": [
            {"uid": "no-uri", "data_type": "T", "connection_type": 0},
            {"uri": "no-uid", "data_type": "T", "connection_type": 0},
            "not an object",
            {"uid": "kept", "uri": "u", "data_type": "T", "connection_type": 0},
        ],
    }
    assert post(client, "/publish", body).status_code == 200
    assert [e["uid"] for e in lookup(client, "skip", ".*", "T").json()] == ["kept"]


def test_connection_type_enum_names_and_booleans(client: TestClient) -> None:  # item 17
    body = {
        "partition": "ct",
        "connections": [{"uid": "a", "uri": "u", "data_type": "T", "connection_type": "kPubSub"}],
    }
    assert post(client, "/publish", body).status_code == 200
    assert lookup(client, "ct", "a", "T").json()[0]["connection_type"] == 1
    body["connections"][0]["connection_type"] = True  # type: ignore[index]
    assert post(client, "/publish", body).status_code == 400


def test_strings_are_escaped_and_round_trip(client: TestClient) -> None:  # item 18
    uid = 'we"ird\\uid\t\u2603'
    uri = "tcp://héllo-wörld:1/\u65e5\u672c"
    body = {
        "partition": "esc",
        "connections": [{"uid": uid, "uri": uri, "data_type": "T", "connection_type": 0}],
    }
    assert post(client, "/publish", body).status_code == 200
    response = lookup(client, "esc", ".*", "T")
    parsed = json.loads(response.content.decode("utf-8"), strict=True)
    assert parsed == [
        {"uid": uid, "uri": uri, "connection_type": 0, "data_type": "T", "capacity": 0}
    ]


def test_alphabetical_key_order_is_accepted(client: TestClient) -> None:  # item 31
    raw = (
        b'{"connections":[{"capacity":0,"connection_type":0,"data_type":"TPSet",'
        b'"uid":"DRO-000-tp_to_trigger","uri":"tcp://192.168.1.100:1234"}],"partition":"ccTest"}'
    )
    assert post(client, "/publish", raw).status_code == 200
    assert (
        lookup(client, "ccTest", "DRO-000-tp_to_trigger").json()[0]["uid"]
        == "DRO-000-tp_to_trigger"
    )


def test_session_alias(client: TestClient) -> None:  # part of item 26
    body = {"session": "ccTest", "connections": CC_TEST["connections"]}
    assert post(client, "/publish", body).status_code == 200
    assert len(lookup(client, "ccTest", "DRO.*").json()) == 2


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/publish/"),
        ("POST", "/publish/"),
        ("POST", "/retract/"),
        ("GET", "/stats/"),
        ("POST", "/getconnection/ccTest/"),
        ("GET", "/getconnection/ccTest"),
        ("POST", "/getconnection/ccTest"),
        ("POST", "/publish"),
        ("POST", "/retract"),
        ("POST", "/retract-partition"),
        ("PUT", "/publish"),
        ("DELETE", "/getconnection/ccTest"),
    ],
)
@pytest.mark.parametrize("body", [b"", b"{", b'{"partition": []}', b"\xff\xfe"])
def test_never_422_or_redirect(
    sqlite_client: TestClient, method: str, path: str, body: bytes
) -> None:  # item 35
    assert post(sqlite_client, "/publish", CC_TEST).status_code == 200
    response = sqlite_client.request(method, path, content=body, follow_redirects=False)
    assert response.status_code != 422
    assert not 300 <= response.status_code < 400
    assert response.status_code < 500


def test_longest_uids_are_stored_on_every_backend(client: TestClient) -> None:
    uids = ["x" * 1024, "\u00e9" * 1024]  # 1,024 characters; 1,024 and 2,048 UTF-8 bytes
    body = {
        "partition": "long",
        "connections": [
            {"uid": u, "uri": "u", "data_type": "T", "connection_type": 0} for u in uids
        ],
    }
    assert post(client, "/publish", body).status_code == 200
    assert [e["uid"] for e in lookup(client, "long", ".*", "T").json()] == uids
