"""The HTTP/1.1 protocol ``daqhub serve`` runs: uvicorn's httptools protocol, with request bodies
handed on without two extra copies, large bodies readable straight from the socket, and a time
limit on request headers.

Bodies. uvicorn gathers the body pieces the parser delivers in a ``bytearray``
(``cycle.body += piece``) and gives the application ``bytes(cycle.body)``: two copies of every
body byte, made on the event loop while holding the GIL, on top of the socket read and the
parser's own. For the receiver's large uploads that was a third of the event loop's time. When
the application keeps up with the socket, which a streamed upload does, the buffer is empty each
time a piece arrives, so the piece itself can be handed on: ``bytes()`` of a ``bytes`` object is
that object. Pieces that arrive while the application is busy are gathered in a ``bytearray`` as
upstream does, and the flow control (pause reading past uvicorn's high-water mark) is unchanged.

Large bodies. On the event loop every piece of a body costs a socket read into a fresh ``bytes``,
the parser's copy of it, a message to the application and a task switch, all holding the GIL:
for a 100 MB upload that made the event loop, not the disk or the hashing, the bottleneck. A
request that announces its ``Content-Length`` (over plain TCP) is therefore offered a
:class:`BodyHandoff` in ``scope["extensions"]["daqhub.direct_body"]``. An application that takes
it (before reading any of the body) gets a :class:`DirectBody`: what already arrived, then the
rest read from the socket by a worker thread straight into the application's own buffers
(``recv_into``), while the event loop stops reading that connection. When the body has been read
whole, or the application answered before its end (whose unread bytes are then dropped as they
arrive, as uvicorn does), the connection goes back to the protocol for the next request; after a
sender that went quiet, it is closed once answered.

Headers. uvicorn closes a connection that stays idle after a response, but it never times out
one that sends nothing after connecting, or only part of a request line and headers: each such
connection would hold a socket for ever. Here a request's line and headers must be complete
within ``header_timeout`` seconds of the connection opening or of the previous response ending;
otherwise the connection is closed. Bodies have their own limits where they matter (the
receiver's ``body_timeout``).

This overrides a few methods of uvicorn's protocol, ``on_body`` mirroring it line for line; the
supported uvicorn versions are bounded in ``pyproject.toml`` and ``tests/core/test_httpproto.py``
runs requests of every shape through a real server with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from typing import Any, cast

import httptools
import uvicorn
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

DIRECT_BODY = "daqhub.direct_body"
"""The ``scope["extensions"]`` key of a request's :class:`BodyHandoff`."""


class BodyGone(Exception):
    """The sender closed or reset the connection before its body was complete."""


class DirectBody:
    """The rest of a request body, read from the socket with blocking calls: use it from a
    worker thread, one call at a time, and :meth:`close` it on the event loop when done."""

    def __init__(
        self,
        sock: socket.socket,
        prefix: bytes,
        remaining: int,
        on_close: Callable[[DirectBody], None],
    ) -> None:
        self._sock = sock
        self._prefix = memoryview(prefix)
        self._remaining = remaining  # still in the socket
        self._on_close = on_close
        self.gone = False  # the sender closed or reset the connection
        self.stalled = False  # the sender sent nothing for the idle timeout
        self._closed = False

    @property
    def left(self) -> int:
        """Body bytes not yet read (buffered ones included)."""
        return len(self._prefix) + self._remaining

    @property
    def unread(self) -> int:
        """Body bytes still in the socket."""
        return self._remaining

    def readinto(self, buffer: memoryview) -> int:
        """Fill ``buffer`` with the next body bytes, waiting for the sender as needed; fewer
        only at the end of the body. Raises TimeoutError when nothing arrives for the idle
        timeout, BodyGone when the sender goes away."""
        filled = 0
        if self._prefix:
            filled = min(len(buffer), len(self._prefix))
            buffer[:filled] = self._prefix[:filled]
            self._prefix = self._prefix[filled:]
        while filled < len(buffer) and self._remaining:
            want = min(len(buffer) - filled, self._remaining)
            try:
                got = self._sock.recv_into(buffer[filled : filled + want])
            except TimeoutError:
                self.stalled = True
                raise
            except (ConnectionResetError, BrokenPipeError) as exc:
                self.gone = True
                raise BodyGone() from exc
            if got == 0:
                self.gone = True
                raise BodyGone()
            filled += got
            self._remaining -= got
        return filled

    def close(self) -> None:
        """Give the connection back to the protocol (on the event loop thread). What is left
        of the body is dropped as it arrives, after the answer, as uvicorn drops a body the
        application answered early: the sender reaches its end and reads the answer rather
        than a reset connection. After a sender stalled, the connection is closed instead."""
        if self._closed:
            return
        self._closed = True
        self._sock.close()  # a duplicate of the connection's descriptor
        self._on_close(self)


class BodyHandoff:
    """Offered to the application for a request with a ``Content-Length``: :meth:`take` hands it
    the rest of the body as a :class:`DirectBody`, or None where that cannot be (the body is
    complete already, or the application read some of it through ``receive``)."""

    def __init__(self, protocol: DaqhubHttpProtocol, cycle: RequestResponseCycle, length: int):
        self._protocol = protocol
        self.cycle = cycle
        self.length = length
        self.delivered = 0  # body bytes the parser gave this request so far
        self.taken = False

    def take(self, idle_timeout: float) -> DirectBody | None:
        """Call on the event loop, before any ``receive``."""
        return self._protocol.hand_off(self, idle_timeout)


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The body length a request announces, if it announces exactly one and no chunking."""
    lengths = [value for name, value in headers if name == b"content-length"]
    if len(lengths) != 1 or any(name == b"transfer-encoding" for name, _ in headers):
        return None
    value = lengths[0].strip()
    return int(value) if value.isdigit() else None


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration plus ``header_timeout`` (the setting of that name), which
    travels with it to worker processes."""

    def __init__(self, app: Any, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout


class DaqhubHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; a body piece reaching an empty buffer is passed on as is,
    large bodies can be handed off, and a request's headers must arrive within
    ``header_timeout``. It runs with a :class:`ServerConfig`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assert isinstance(self.config, ServerConfig), "DaqhubHttpProtocol needs a ServerConfig"
        self._header_timeout = self.config.header_timeout
        self._header_timer: asyncio.TimerHandle | None = None
        self._handoff: BodyHandoff | None = None  # the latest request's, while it is offered
        self._skip = 0  # bytes of a handed-off body left unread, to drop as they arrive
        self._shutting_down = False

    # -- bodies ---------------------------------------------------------------------------------

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return
        if self._handoff is not None:
            self._handoff.delivered += len(body)
        gathered = cycle.body
        if not gathered:
            # receive() answers bytes(cycle.body), the same object, then starts a new buffer.
            cycle.body = body  # type: ignore[assignment]
        elif isinstance(gathered, bytearray):
            gathered += body
        else:  # a piece passed on is still waiting: gather from here on, in a bytearray
            cycle.body = bytearray(gathered)
            cycle.body += body
        if len(cycle.body) > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        cycle.message_event.set()

    # -- large bodies read by the application -----------------------------------------------------

    def _offer_body(self) -> None:
        """After the headers: offer a hand-off of the body to a request that has one."""
        self._handoff = None
        cycle = self.cycle
        if cycle is None or cycle.scope is not self.scope or self.scheme != "http":
            return  # an upgrade, or TLS: the socket does not carry the body's bytes as they are
        length = _content_length(self.headers)
        if length:
            self._handoff = BodyHandoff(self, cycle, length)
            extensions = cast(dict[str, Any], self.scope.setdefault("extensions", {}))
            extensions[DIRECT_BODY] = self._handoff

    def hand_off(self, handoff: BodyHandoff, idle_timeout: float) -> DirectBody | None:
        cycle = handoff.cycle
        if (
            handoff.taken
            or handoff is not self._handoff  # a later request's headers came: this body is whole
            or not cycle.more_body
            or cycle.disconnected
            or cycle.response_complete
            or self.transport.is_closing()
            or handoff.delivered != len(cycle.body)  # some of it was read through receive()
        ):
            return None
        sock = self.transport.get_extra_info("socket")
        if sock is None:
            return None
        remaining = handoff.length - handoff.delivered  # > 0 while more_body
        handoff.taken = True
        self.flow.pause_reading()
        if cycle.waiting_for_100_continue:  # what receive() would have answered first
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            cycle.waiting_for_100_continue = False
        prefix = bytes(cycle.body)
        cycle.body = bytearray()
        keep_alive = cycle.keep_alive
        cycle.keep_alive = False  # until the body is read whole: an earlier answer closes
        duplicate = socket.socket(fileno=os.dup(sock.fileno()))
        duplicate.settimeout(idle_timeout)

        def handed_back(body: DirectBody) -> None:
            self._handoff = None
            if body.gone:
                if not self.transport.is_closing():
                    self.transport.close()
                return
            if body.stalled:
                return  # keep_alive stays off: closed after the answer
            # The parser still waits for the bytes read past it: the next request starts on a
            # fresh one, once the body's unread bytes (if answered early) have gone by.
            self._skip = body.unread
            self.parser = httptools.HttpRequestParser(self)
            with contextlib.suppress(AttributeError):
                self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
            cycle.more_body = False
            cycle.keep_alive = keep_alive and not self._shutting_down

        return DirectBody(duplicate, prefix, remaining, handed_back)

    def data_received(self, data: bytes) -> None:
        if self._skip:
            self._unset_keepalive_if_required()
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
            if not data:
                return
        super().data_received(data)

    def shutdown(self) -> None:
        self._shutting_down = True
        super().shutdown()

    # -- the header time limit ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._wait_for_headers()

    def on_headers_complete(self) -> None:
        self._stop_waiting_for_headers()
        super().on_headers_complete()
        self._offer_body()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn armed its keep-alive timer: the connection now waits for a new request.
        if self.timeout_keep_alive_task is not None:
            self._wait_for_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting_for_headers()
        super().connection_lost(exc)

    def _wait_for_headers(self) -> None:
        self._stop_waiting_for_headers()
        self._header_timer = self.loop.call_later(self._header_timeout, self._headers_too_slow)

    def _stop_waiting_for_headers(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()
