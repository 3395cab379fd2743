"""The HTTP/1.1 protocol ``daqhub serve`` runs: uvicorn's httptools protocol, handing request
bodies to the application without copying them twice more.

uvicorn gathers the body pieces the parser delivers in a ``bytearray`` (``cycle.body += piece``)
and gives the application ``bytes(cycle.body)``: two copies of every body byte, made on the
event loop while holding the GIL, on top of the socket read and the parser's own. For the
receiver's large uploads that was a third of the event loop's time. When the application keeps
up with the socket, which a streamed upload does, the buffer is empty each time a piece arrives,
so the piece itself can be handed on: ``bytes()`` of a ``bytes`` object is that object. Pieces
that arrive while the application is busy are still gathered the upstream way, and the flow
control (pause reading past uvicorn's high-water mark) is unchanged.

This overrides one method of uvicorn's protocol, mirroring it line for line; the supported
uvicorn versions are bounded in ``pyproject.toml`` and ``tests/core/test_httpproto.py`` runs
bodies of every shape through a real server with it.
"""

from __future__ import annotations

from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class BodyPassingProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; a body piece reaching an empty buffer is passed on as is."""

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
