"""The HTTP/1.1 protocol ``daqhub serve`` runs: uvicorn's httptools protocol, with request bodies
handed on without two extra copies and a time limit on request headers.

Bodies. uvicorn gathers the body pieces the parser delivers in a ``bytearray``
(``cycle.body += piece``) and gives the application ``bytes(cycle.body)``: two copies of every
body byte, made on the event loop while holding the GIL, on top of the socket read and the
parser's own. For the receiver's large uploads that was a third of the event loop's time. When
the application keeps up with the socket, which a streamed upload does, the buffer is empty each
time a piece arrives, so the piece itself can be handed on: ``bytes()`` of a ``bytes`` object is
that object. Pieces that arrive while the application is busy are gathered in a ``bytearray`` as
upstream does, and the flow control (pause reading past uvicorn's high-water mark) is unchanged.

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
from typing import Any

import uvicorn
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT = 60.0
"""Seconds for a request's line and headers when the configuration does not say."""


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration plus ``header_timeout``, which travels with it to worker
    processes."""

    def __init__(self, app: Any, *, header_timeout: float = HEADER_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout


class DaqhubHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; a body piece reaching an empty buffer is passed on as is,
    and a request's headers must arrive within ``header_timeout``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout = float(getattr(self.config, "header_timeout", HEADER_TIMEOUT))
        self._header_timer: asyncio.TimerHandle | None = None

    # -- bodies ---------------------------------------------------------------------------------

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return
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

    # -- the header time limit ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._wait_for_headers()

    def on_headers_complete(self) -> None:
        self._stop_waiting_for_headers()
        super().on_headers_complete()

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
