"""Streaming a request body to a staging file (spec §2.6.4, §2.6.9 steps 4-6, §3.3, §4.2).

The body is never held whole in memory. It arrives in ~4 MiB batches; each batch is parsed
(multipart) or taken as is (raw body), then hashed and written by two worker threads at once,
while the next batch is received. A body that announces its length (1 MiB or more) is read
straight from the socket by a worker thread into buffers taken in turn
(:class:`daqhub.core.httpproto.DirectBody`), which leaves the event loop out of the transfer;
otherwise the event loop collects the batches from the ASGI stream and counts bytes against
``max_upload_bytes`` (413 the moment the limit passes). A body announced at 16 MiB or
more is staged with direct I/O, past the page cache (``Storage.new_writer``). Past every 16 MiB
staged, the bytes so far are made durable on a helper thread while the transfer goes on, so that
the disk works during the transfer and the fsync before the answer is short. A sender that
sends nothing for ``idle_timeout`` seconds mid-body is given up on (408), so that a hung sender
does not hold its processing slot and staging file for ever.

The payload is

* the first multipart part named ``file`` (its filename parameter is ignored);
* nothing for ``application/x-www-form-urlencoded``, or for a multipart body that does not parse;
* otherwise the raw body, when it has at least one byte.

Digest headers a sender adds (``Repr-Digest``, ``Content-Digest``, ``Content-MD5``) are checked
against the body as sent or, for multipart uploads, the file part.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import mmap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from daqhub.core.files import AtomicWriter
from daqhub.core.httpproto import DIRECT_BODY, BodyGone, BodyHandoff, DirectBody
from daqhub.receiver.errors import BodyTimeout, ChecksumMismatch, PayloadTooLarge
from daqhub.receiver.storage import Storage

SYNC_AHEAD_BYTES = 16 << 20
"""Staged bytes after which those written so far are synced in the background."""
BATCH_BYTES = 4 << 20
"""Body bytes handed to a worker thread at a time (as the received chunks, never joined)."""
DIRECT_BODY_MIN = 1 << 20
"""Announced body length from which the body is read straight from the socket."""

DIRECT_BUFFERS = 3
"""Buffers a body read from the socket cycles through (see :func:`_read_direct`)."""

Chunk = bytes | bytearray | mmap.mmap
"""A piece of the body as received: a ``bytes`` from the ASGI stream, or a reading buffer."""
DIGEST_ALGORITHMS = {"sha-256": "sha256", "sha-512": "sha512", "md5": "md5"}


class Disconnected(Exception):
    """The client went away before the body was complete: nothing is kept, nothing answered."""


@dataclass
class Intake:
    """The outcome of reading the body: a staged payload (or none) and its fingerprints."""

    writer: AtomicWriter | None
    size: int
    sha256: str
    body_bytes: int

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.abort()


@dataclass
class _Digests:
    """Digests a sender asked us to verify: algorithm -> expected raw bytes."""

    expected: dict[str, list[bytes]] = field(default_factory=dict)

    @classmethod
    def from_headers(cls, request: Request) -> _Digests:
        digests = cls()
        for header in ("repr-digest", "content-digest"):
            for value in request.headers.getlist(header):
                for member in value.split(","):
                    name, sep, encoded = member.strip().partition("=")
                    algorithm = DIGEST_ALGORITHMS.get(name.strip().lower())
                    if not sep or algorithm is None:
                        continue
                    digests.add(algorithm, encoded.strip().strip(":"))
        for value in request.headers.getlist("content-md5"):
            digests.add("md5", value.strip())
        return digests

    def add(self, algorithm: str, encoded: str) -> None:
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raw = b""  # an undecodable digest can never match
        self.expected.setdefault(algorithm, []).append(raw)


class _Sink:
    """Parses, hashes and writes the body, one batch at a time."""

    def __init__(
        self,
        storage: Storage,
        content_type: str | None,
        digests: _Digests,
        *,
        max_parts: int,
        max_part_header: int,
        expected_bytes: int | None,
    ) -> None:
        self._storage = storage
        self._expected_bytes = expected_bytes
        self.writer: AtomicWriter | None = None
        self._payload_hash = hashlib.sha256()
        self._body_hashes = {a: hashlib.new(a) for a in digests.expected}
        self._payload_extra = {a: hashlib.new(a) for a in digests.expected if a != "sha256"}
        self._digests = digests
        self.payload_size = 0
        self.multipart = False
        self.ignore_body = False
        self.parser: MultipartParser | None = None
        self.broken = False
        self.payload_done = False
        self._parts = 0
        self._max_parts = max_parts
        self._in_file_part = False
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._part_headers: dict[str, bytes] = {}
        self._pieces: list[bytes | memoryview] = []
        self._synced = 0
        mime, params = parse_options_header(content_type or "")
        if mime == b"multipart/form-data":
            self.multipart = True
            boundary = params.get(b"boundary")
            if boundary:
                self.parser = MultipartParser(
                    boundary,
                    self._callbacks(),
                    max_header_count=32,
                    max_header_size=max_part_header,
                )
            else:
                self.broken = True
        elif mime == b"application/x-www-form-urlencoded":
            self.ignore_body = True

    # -- multipart callbacks ------------------------------------------------------------------

    def _callbacks(self) -> Any:
        return {
            "on_part_begin": self._on_part_begin,
            "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
        }

    def _on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > self._max_parts:
            raise MultipartParseError("too many parts")
        self._part_headers = {}
        self._in_file_part = False

    def _on_header_end(self) -> None:
        name = bytes(self._header_field).decode("latin-1").strip().lower()
        self._part_headers[name] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        _disposition, params = parse_options_header(
            self._part_headers.get("content-disposition", b"")
        )
        if params.get(b"name") == b"file" and self.writer is None and not self.payload_done:
            self.writer = self._storage.new_writer(expected_bytes=self._expected_bytes)
            self._in_file_part = True

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file_part:
            self._write_payload(memoryview(data)[start:end])

    def _on_part_end(self) -> None:
        if self._in_file_part:
            self._in_file_part = False
            self.payload_done = True

    # -- batches --------------------------------------------------------------------------------
    #
    # A batch is parsed first (cheap: it only locates the payload's bytes), then the payload
    # pieces are hashed and written by two threads at once, the hashing and the disk write
    # being the two costly steps and both releasing the GIL.

    def _write_payload(self, chunk: bytes | memoryview) -> None:
        if chunk:
            self._pieces.append(chunk)

    def parse(self, batch: Sequence[Chunk]) -> list[bytes | memoryview]:
        """The payload bytes of ``batch`` (creating the staging file when the payload starts)."""
        self._pieces = []
        for chunk in batch:
            if self.ignore_body or self.broken:
                break
            if not self.multipart:
                if self.writer is None:
                    self.writer = self._storage.new_writer(expected_bytes=self._expected_bytes)
                self._write_payload(memoryview(chunk))
                continue
            assert self.parser is not None
            try:
                self.parser.write(cast(bytes, chunk))  # a bytearray parses as bytes do
            except MultipartParseError:
                self._break()
        return self._pieces if self.writer is not None else []

    def hash(self, batch: Sequence[Chunk], pieces: list[bytes | memoryview]) -> None:
        for hasher in self._body_hashes.values():
            for chunk in batch:
                hasher.update(chunk)
        for piece in pieces:
            self._payload_hash.update(piece)
            for hasher in self._payload_extra.values():
                hasher.update(piece)

    def write(self, pieces: list[bytes | memoryview]) -> None:
        if self.writer is None:
            return
        for piece in pieces:
            self.writer.write(piece)
            self.payload_size += len(piece)
        # Large uploads only: small ones are synced once, before validation.
        if self.payload_size - self._synced >= SYNC_AHEAD_BYTES and self.writer.sync_ahead():
            self._synced = self.payload_size

    def finish(self) -> list[bytes | memoryview]:
        """Payload bytes the parser still held; marks bodies that did not parse."""
        self._pieces = []
        if self.parser is not None and not self.broken:
            try:
                self.parser.finalize()
            except MultipartParseError:
                self._break()
            # A body that stops before its closing boundary did not parse.
            if not self.broken and self.parser.state.name != "END":
                self._break()
        return self._pieces if self.writer is not None else []

    def _break(self) -> None:
        # The staging file is removed at the end (no payload), once the writes in flight are done.
        self.broken = True

    def has_payload(self) -> bool:
        if self.multipart:
            return not self.broken and self.writer is not None and self.payload_done
        return self.writer is not None and self.payload_size > 0

    def digests_match(self) -> bool:
        for algorithm, expected_values in self._digests.expected.items():
            body = self._body_hashes[algorithm].digest()
            payload = (
                self._payload_hash.digest()
                if algorithm == "sha256"
                else self._payload_extra[algorithm].digest()
            )
            for expected in expected_values:
                if expected not in (body, payload):
                    return False
        return True

    @property
    def sha256(self) -> str:
        return self._payload_hash.hexdigest()


async def receive_payload(
    request: Request,
    storage: Storage,
    *,
    limit: int,
    max_parts: int,
    max_part_header: int,
    idle_timeout: float,
    expected_bytes: int | None = None,
) -> Intake:
    """Read the whole body; raises PayloadTooLarge, ChecksumMismatch, BodyTimeout (no body
    byte for ``idle_timeout`` seconds) or Disconnected.

    ``expected_bytes`` is the declared Content-Length, if any: it chooses how the payload is
    staged (:meth:`Storage.new_writer`) and whether the body is read from the socket directly."""
    sink = _Sink(
        storage,
        request.headers.get("content-type"),
        _Digests.from_headers(request),
        max_parts=max_parts,
        max_part_header=max_part_header,
        expected_bytes=expected_bytes,
    )
    handoff: BodyHandoff | None = request.scope.get("extensions", {}).get(DIRECT_BODY)
    direct = None
    # Read from the socket, the body is not counted against ``limit`` as it arrives: only one
    # announced within the limit is taken that way (the caller refuses a larger one anyway).
    if handoff is not None and DIRECT_BODY_MIN <= (expected_bytes or 0) <= limit:
        direct = handoff.take(idle_timeout)
    try:
        if direct is not None:
            try:
                total = await _read_direct(direct, sink, idle_timeout)
            finally:
                direct.close()  # what is left of the body is dropped after the answer
        else:
            total = await _read_stream(request, sink, limit, idle_timeout)
        tail = sink.finish()
        await asyncio.gather(
            run_in_threadpool(sink.hash, [], tail), run_in_threadpool(sink.write, tail)
        )
    except BaseException:
        if sink.writer is not None:
            sink.writer.abort()
        raise
    if not sink.digests_match():
        if sink.writer is not None:
            sink.writer.abort()
        raise ChecksumMismatch()
    if not sink.has_payload():
        if sink.writer is not None:
            sink.writer.abort()
        return Intake(None, 0, sink.sha256, total)
    return Intake(sink.writer, sink.payload_size, sink.sha256, total)


async def _process(sink: _Sink, chunks: Sequence[Chunk]) -> None:
    """Parse a batch on the event loop, then hash and write its payload on two threads."""
    pieces = sink.parse(chunks)
    await asyncio.gather(
        run_in_threadpool(sink.hash, chunks, pieces), run_in_threadpool(sink.write, pieces)
    )


async def _read_stream(request: Request, sink: _Sink, limit: int, idle_timeout: float) -> int:
    """Receive the body through the ASGI stream; the bytes read."""
    total = 0
    batch: list[Chunk] = []
    batch_size = 0
    pending: asyncio.Future[None] | None = None
    try:
        body = request.stream()
        try:
            while True:
                # Only the wait for the sender counts, not the wait for our own disk.
                try:
                    async with asyncio.timeout(idle_timeout):
                        chunk = await anext(body)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise BodyTimeout(idle_timeout) from None
                if not chunk:
                    continue
                total += len(chunk)
                if total > limit:
                    raise PayloadTooLarge(limit)
                batch.append(chunk)
                batch_size += len(chunk)
                if batch_size >= BATCH_BYTES:
                    if pending is not None:
                        await pending
                    pending = asyncio.ensure_future(_process(sink, batch))
                    batch = []
                    batch_size = 0
        except ClientDisconnect:
            raise Disconnected() from None
        if pending is not None:
            await pending
            pending = None
        await _process(sink, batch)
    finally:
        if pending is not None:
            with contextlib.suppress(BaseException):
                await pending
    return total


async def _after(previous: asyncio.Future[None] | None, step: Any, *args: Any) -> None:
    """Run ``step`` on a worker thread once ``previous`` (the same step of the batch before) is
    done: batches are hashed, and written, in order."""
    if previous is not None:
        await previous
    await run_in_threadpool(step, *args)


async def _read_direct(body: DirectBody, sink: _Sink, idle_timeout: float) -> int:
    """Read the body from the socket into buffers taken in turn; the bytes read.

    Reading a batch, hashing the one before and writing the one before that can all run at
    once (each releases the GIL): the hashes form one chain and the writes another, and a
    buffer is read into again once its batch is both hashed and written. A raw body is read
    into page-aligned buffers, from which whole batches go to the disk with direct I/O without
    another copy; the multipart parser needs a ``bytearray`` (it uses ``find``)."""
    buffers: list[Chunk] = [
        bytearray(BATCH_BYTES) if sink.multipart else mmap.mmap(-1, BATCH_BYTES)
        for _ in range(DIRECT_BUFFERS)
    ]
    in_use: list[asyncio.Future[Any] | None] = [None] * DIRECT_BUFFERS
    hashed: asyncio.Future[None] | None = None
    written: asyncio.Future[None] | None = None
    total = 0
    try:
        turn = 0
        while body.left:
            for batch in in_use:
                if batch is not None and batch.done() and batch.exception() is not None:
                    await batch  # a step failed (the disk is full, say): stop reading now
            slot = turn % DIRECT_BUFFERS
            turn += 1
            previous = in_use[slot]
            if previous is not None:
                await previous
            buffer = buffers[slot]
            try:
                filled = await run_in_threadpool(body.readinto, memoryview(buffer))
            except TimeoutError:
                raise BodyTimeout(idle_timeout) from None
            except BodyGone:
                raise Disconnected() from None
            total += filled
            chunk = buffer if filled == BATCH_BYTES else bytes(memoryview(buffer)[:filled])
            pieces = sink.parse([chunk])
            hashed = asyncio.ensure_future(_after(hashed, sink.hash, [chunk], pieces))
            written = asyncio.ensure_future(_after(written, sink.write, pieces))
            in_use[slot] = asyncio.gather(hashed, written)
        for batch in in_use:
            if batch is not None:
                await batch
    finally:
        for batch in in_use:
            if batch is not None:
                with contextlib.suppress(BaseException):
                    await batch
    return total
