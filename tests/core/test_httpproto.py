"""The protocol ``daqhub serve`` runs (daqhub.core.httpproto), in a real uvicorn server: request
bodies of every shape arrive whole and in order, a piece that reaches an empty buffer is handed
to the application as the very object the parser made (no copies), and a body handed off to the
application is read from the socket, after which the connection serves the next request (the
rest of a body answered early dropped first), or is closed after a sender that stalled."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from daqhub.cli import serve
from daqhub.core.httpproto import (
    DIRECT_BODY,
    BodyGone,
    BodyHandoff,
    DaqhubHttpProtocol,
    ServerConfig,
)
from daqhub.settings import Settings

MiB = 1 << 20


class RecordingProtocol(DaqhubHttpProtocol):
    """Keeps every piece the parser delivered, so that the test can tell whether the
    application was given those objects or copies of them."""

    delivered: list[bytes] = []

    def on_body(self, body: bytes) -> None:
        RecordingProtocol.delivered.append(body)
        super().on_body(body)


async def answer(send: Any, document: dict[str, Any]) -> None:
    encoded = json.dumps(document).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(encoded)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": encoded})


class App:
    """Reads the body (slowly when asked by the ``x-slow`` header) and answers what it got.

    With ``x-direct: N`` it takes the body hand-off and reads up to N bytes of the body from the
    socket (``all``: the whole body; ``after-receive``: one ``receive`` first), with an idle
    timeout of 0.5 s, and answers what it read or what went wrong."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.disconnects = 0
        self.gone = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        import asyncio

        headers = dict(scope["headers"])
        if b"x-direct" in headers:
            await self.direct(scope, receive, send, headers[b"x-direct"].decode())
            return
        slow = headers.get(b"x-slow") == b"1"
        digest = hashlib.sha256()
        size = messages = 0
        kinds = set()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnects += 1
                return
            body = message.get("body", b"")
            kinds.add(type(body).__name__)
            self.pieces.append(body)
            digest.update(body)
            size += len(body)
            messages += 1
            if slow and messages < 20:
                await asyncio.sleep(0.02)  # the socket keeps delivering meanwhile
            if not message.get("more_body"):
                break
        await answer(send, {"sha256": digest.hexdigest(), "size": size, "kinds": sorted(kinds)})

    async def direct(self, scope: dict[str, Any], receive: Any, send: Any, mode: str) -> None:
        import asyncio

        handoff: BodyHandoff | None = scope.get("extensions", {}).get(DIRECT_BODY)
        assert handoff is not None
        before = b""
        if mode == "after-receive":
            before = (await receive())["body"]
        body = handoff.take(idle_timeout=0.5)
        if body is None:  # the body is here already, or the application read some of it
            rest = b""
            message = {"more_body": True}
            while message.get("more_body"):
                message = await receive()
                rest += message.get("body", b"")
            await answer(send, {"taken": False, "size": len(before + rest)})
            return
        wanted = body.left if mode == "all" else int(mode)
        digest = hashlib.sha256()
        buffer = bytearray(1 << 20)
        outcome = "read"
        read = 0
        try:
            while read < wanted:
                view = memoryview(buffer)[: min(len(buffer), wanted - read)]
                got = await asyncio.to_thread(body.readinto, view)
                digest.update(view[:got])
                read += got
        except TimeoutError:
            outcome = "timeout"
        except BodyGone:
            outcome = "gone"
            self.gone += 1
        finally:
            body.close()
        if outcome != "gone":
            await answer(send, {"taken": True, "outcome": outcome, "sha256": digest.hexdigest()})


@contextlib.contextmanager
def running(header_timeout: float = 60.0) -> Iterator[tuple[int, App]]:
    """A real uvicorn server in a thread, with the protocol under test."""
    app = App()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    config = ServerConfig(
        app,
        header_timeout=header_timeout,
        http=RecordingProtocol,
        lifespan="off",
        log_level="warning",
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    RecordingProtocol.delivered = []
    try:
        yield sock.getsockname()[1], app
    finally:
        instance.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def server() -> Iterator[tuple[int, App]]:
    with running() as started:
        yield started


def exchange(port: int, request: bytes, answers: int = 1) -> list[dict[str, Any]]:
    """Send raw bytes; read ``answers`` JSON responses off the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        return read_answers(conn, answers)


def read_answers(conn: socket.socket, answers: int) -> list[dict[str, Any]]:
    buffer = b""
    found: list[dict[str, Any]] = []
    while len(found) < answers:
        while b"\r\n\r\n" not in buffer:
            chunk = conn.recv(65536)
            assert chunk, f"connection closed after {len(found)} answers"
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200"), head
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(buffer) < length:
            buffer += conn.recv(65536)
        found.append(json.loads(buffer[:length]))
        buffer = buffer[length:]
    return found


def post(body: bytes, *extra: str) -> bytes:
    head = "\r\n".join(
        ["POST /up HTTP/1.1", "Host: t", f"Content-Length: {len(body)}", *extra, "", ""]
    )
    return head.encode() + body


def expect(body: bytes) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "kinds": ["bytes"]}


def test_a_large_body_arrives_whole_and_uncopied(server: tuple[int, App]) -> None:
    port, app = server
    body = os.urandom(8 * MiB)
    assert exchange(port, post(body)) == [expect(body)]
    delivered = {id(piece): piece for piece in RecordingProtocol.delivered}
    handed_on = [p for p in app.pieces if p and delivered.get(id(p)) is p]
    # The application read as fast as the socket delivered: nearly every piece is the
    # parser's own object (a piece reaching a non-empty buffer is gathered, i.e. copied).
    assert len(handed_on) >= len([p for p in app.pieces if p]) // 2
    assert sum(len(p) for p in handed_on) >= 4 * MiB


def test_a_slow_reader_gets_the_pieces_gathered(server: tuple[int, App]) -> None:
    port, app = server
    body = os.urandom(4 * MiB)
    request = post(body, "x-slow: 1")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = len(request) - len(body)
        conn.sendall(request[:head])
        for start in range(head, head + 256 * 1024, 2048):  # small pieces, while the app sleeps
            conn.sendall(request[start : start + 2048])
            time.sleep(0.0005)
        conn.sendall(request[head + 256 * 1024 :])
        assert read_answers(conn, 1) == [expect(body)]
    # While the application slept, pieces were gathered: some messages hold several.
    assert len(app.pieces) < len(RecordingProtocol.delivered)


def test_chunked_pipelined_empty_and_continue(server: tuple[int, App]) -> None:
    port, _ = server
    pieces = [os.urandom(n) for n in (1, 500, 70_000, 3, 1 << 17)]
    chunked = (
        b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces)
        + b"0\r\n\r\n"
    )
    first, second = os.urandom(100_000), b"second"
    pipelined = post(first) + chunked + post(b"") + post(second)
    answers = exchange(port, pipelined, answers=4)
    assert answers[0] == expect(first)
    assert answers[1] == expect(b"".join(pieces))
    assert answers[2]["size"] == 0 and answers[2]["sha256"] == hashlib.sha256().hexdigest()
    assert answers[3] == expect(second)

    body = os.urandom(300_000)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(post(b"", "Expect: 100-continue").replace(b": 0\r\n", b": 300000\r\n"))
        assert conn.recv(64).startswith(b"HTTP/1.1 100 Continue")
        conn.sendall(body)
        assert read_answers(conn, 1) == [expect(body)]


def test_a_sender_that_goes_away_mid_body(server: tuple[int, App]) -> None:
    port, app = server
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(post(b"x" * MiB)[:200_000])
    deadline = time.monotonic() + 10
    while app.disconnects == 0:
        assert time.monotonic() < deadline, "the application never heard of the disconnect"
        time.sleep(0.01)
    body = b"still serving"
    assert exchange(port, post(body)) == [expect(body)]


def test_daqhub_serve_runs_this_protocol(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    used: dict[str, Any] = {}

    class Stop(Exception):
        pass

    def fake_run(self: uvicorn.Server, sockets: Any = None) -> None:
        used["http"] = self.config.http
        used["header_timeout"] = getattr(self.config, "header_timeout", None)
        for sock in sockets or []:
            sock.close()
        raise Stop

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    settings = Settings(listen=["127.0.0.1:0"], data_dir=tmp_path, header_timeout=7.5)
    with pytest.raises(Stop):
        serve.run_server(settings)
    assert used == {"http": DaqhubHttpProtocol, "header_timeout": 7.5}


def closed_within(conn: socket.socket, seconds: float) -> bool:
    """True when the server closes ``conn`` (without answering) within ``seconds``; closing
    with bytes of ours unread resets the connection."""
    conn.settimeout(seconds)
    try:
        return conn.recv(65536) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_headers_must_arrive_in_time() -> None:
    with running(header_timeout=0.5) as (port, _app):
        silent = socket.create_connection(("127.0.0.1", port))
        half = socket.create_connection(("127.0.0.1", port))
        half.sendall(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Le")
        # After an answer, a new request that stalls in its headers is cut off too.
        reused = socket.create_connection(("127.0.0.1", port))
        reused.sendall(post(b"first"))
        assert read_answers(reused, 1) == [expect(b"first")]
        reused.sendall(b"GET / HTTP/1.1\r\n")
        # Headers that trickle in but finish in time, then a body slower than the limit: fine.
        slow = socket.create_connection(("127.0.0.1", port))
        for piece in (b"POST /up HTTP/1.1\r\n", b"Host: t\r\n", b"Content-Length: 4\r\n\r\n"):
            slow.sendall(piece)
            time.sleep(0.1)
        for byte in b"body":
            time.sleep(0.3)
            slow.sendall(bytes([byte]))
        assert read_answers(slow, 1) == [expect(b"body")]
        for conn in (silent, half, reused):
            assert closed_within(conn, 5)
            conn.close()
        slow.close()


# -- bodies handed off to the application ---------------------------------------------------------


def direct(body: bytes) -> dict[str, Any]:
    return {"taken": True, "outcome": "read", "sha256": hashlib.sha256(body).hexdigest()}


def test_a_handed_off_body_is_read_whole_and_the_connection_goes_on(
    server: tuple[int, App],
) -> None:
    port, _ = server
    body, after = os.urandom(8 * MiB + 17), os.urandom(300_000)
    # The next requests are already behind the body: they are parsed once it has been read.
    # (The last one arrives whole with its headers: there is nothing left to hand off.)
    pipelined = post(body, "x-direct: all") + post(after) + post(b"x" * 1000, "x-direct: all")
    assert exchange(port, pipelined, answers=3) == [
        direct(body),
        expect(after),
        {"taken": False, "size": 1000},
    ]
    # A sender waiting for "100 Continue" gets it before the body is read.
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        request = post(body, "x-direct: all", "Expect: 100-continue")
        conn.sendall(request[: len(request) - len(body)])
        assert conn.recv(64).startswith(b"HTTP/1.1 100 Continue")
        conn.sendall(body)
        assert read_answers(conn, 1) == [direct(body)]
        conn.sendall(post(b"again"))
        assert read_answers(conn, 1) == [expect(b"again")]


def test_the_rest_of_a_body_answered_early_is_dropped_and_the_connection_goes_on(
    server: tuple[int, App],
) -> None:
    port, _ = server
    body = os.urandom(4 * MiB)
    request = post(body, "x-direct: 1000000")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request[: 2 * MiB])
        assert read_answers(conn, 1) == [direct(body[:1_000_000])]
        # The sender, still sending, reaches the end of its body; what follows is parsed.
        conn.sendall(request[2 * MiB :] + post(b"next"))
        assert read_answers(conn, 1) == [expect(b"next")]


def test_a_handed_off_body_that_stalls_or_stops(server: tuple[int, App]) -> None:
    port, app = server
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(post(bytes(2 * MiB), "x-direct: all")[:MiB])
        [answered] = read_answers(conn, 1)
        assert answered["outcome"] == "timeout"
        assert closed_within(conn, 5)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(post(bytes(2 * MiB), "x-direct: all")[:MiB])
    deadline = time.monotonic() + 10
    while app.gone == 0:
        assert time.monotonic() < deadline, "the application never heard the sender left"
        time.sleep(0.01)
    assert exchange(port, post(b"still serving")) == [expect(b"still serving")]


def test_no_hand_off_once_the_application_read_some_of_the_body(
    server: tuple[int, App],
) -> None:
    port, _ = server
    body = os.urandom(4 * MiB)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = post(body, "x-direct: after-receive")
        conn.sendall(request[: len(request) - len(body) + 1000])
        time.sleep(0.2)  # the first receive() gets these bytes; the rest comes through receive()
        conn.sendall(request[len(request) - len(body) + 1000 :])
        assert read_answers(conn, 1) == [{"taken": False, "size": len(body)}]
