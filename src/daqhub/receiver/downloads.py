"""Serving a file from an already-open descriptor, with validators and byte ranges (spec §2.7,
§4.1, §4.2).

The descriptor was opened before anything was decided, so a file that Overwatch processing
moves away (or an upload replaces) while it is being sent still yields its own bytes only.
Supports ``ETag``/``If-None-Match``, ``Last-Modified``/``If-Modified-Since``, ``If-Range`` and
``Range`` with one or several ranges (``multipart/byteranges``, as JSROOT asks for).
"""

from __future__ import annotations

import base64
import email.utils
import mimetypes
import os
import secrets
from collections.abc import Iterator

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from daqhub.receiver.storage import OpenedFile

CHUNK = 1 << 20
MAX_RANGES = 256


def media_type_for(name: str) -> str:
    if name.endswith(".root"):
        return "application/octet-stream"
    guessed, _encoding = mimetypes.guess_type(name, strict=True)
    return guessed or "application/octet-stream"


def _etag_matches(header: str, etag: str, *, weak: bool) -> bool:
    if header.strip() == "*":
        return True
    candidates = [c.strip() for c in header.split(",")]
    if weak:
        plain = etag.removeprefix("W/")
        return any(c.removeprefix("W/") == plain for c in candidates)
    return not etag.startswith("W/") and etag in candidates


def _parse_ranges(header: str, size: int) -> list[tuple[int, int]] | None:
    """Inclusive (start, end) pairs; [] when none is satisfiable; None when not parseable."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        return None
    ranges: list[tuple[int, int]] = []
    for part in spec.split(","):
        first, dash, last = part.strip().partition("-")
        if not dash:
            return None
        try:
            if first == "":
                length = int(last)
                if length <= 0:
                    continue
                ranges.append((max(size - length, 0), size - 1))
                continue
            start = int(first)
            end = int(last) if last != "" else size - 1
        except ValueError:
            return None
        if start >= size:
            continue  # unsatisfiable, but well-formed
        if start < 0 or end < start:
            return None
        ranges.append((start, min(end, size - 1)))
    if len(ranges) > MAX_RANGES:
        return None
    return [r for r in ranges if size > 0]


class FileResponse(Response):
    """Streams ``(offset, length)`` slices of an open file (or prepared bytes) and closes it."""

    def __init__(
        self,
        opened: OpenedFile,
        status: int,
        headers: dict[str, str],
        pieces: list[bytes | tuple[int, int]],
        *,
        send_body: bool,
    ) -> None:
        super().__init__(status_code=status, headers=headers)
        self.opened = opened
        self.pieces = pieces
        self.send_body = send_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            if self.send_body:
                for data in self._chunks_plan():
                    if isinstance(data, bytes):
                        await send({"type": "http.response.body", "body": data, "more_body": True})
                        continue
                    offset, length = data
                    chunk = await anyio.to_thread.run_sync(os.pread, self.opened.fd, length, offset)
                    if len(chunk) != length:
                        raise OSError("file changed size while being sent")
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.opened.close()

    def _chunks_plan(self) -> Iterator[bytes | tuple[int, int]]:
        for piece in self.pieces:
            if isinstance(piece, bytes):
                yield piece
                continue
            offset, length = piece
            while length > 0:
                step = min(CHUNK, length)
                yield (offset, step)
                offset += step
                length -= step


def serve_file(
    request: Request,
    opened: OpenedFile,
    *,
    sha256: str | None,
    extra_headers: dict[str, str] | None = None,
) -> Response:
    """The response for GET/HEAD of ``opened`` (takes ownership of its descriptor)."""
    size = opened.size
    etag = (
        f'"sha256-{sha256}"'
        if sha256
        else f'W/"{opened.inode:x}-{size:x}-{int(opened.mtime * 1e6):x}"'
    )
    media_type = media_type_for(opened.name)
    headers = {
        "ETag": etag,
        "Last-Modified": email.utils.formatdate(opened.mtime, usegmt=True),
        "Cache-Control": "no-cache",
        "Accept-Ranges": "bytes",
        **(extra_headers or {}),
    }
    if sha256:
        headers["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:"
    send_body = request.method != "HEAD"

    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        if _etag_matches(if_none_match, etag, weak=True):
            return FileResponse(opened, 304, headers, [], send_body=False)
    else:
        ims = request.headers.get("if-modified-since")
        if ims:
            try:
                since = email.utils.parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError):
                since = None
            if since is not None and int(opened.mtime) <= since:
                return FileResponse(opened, 304, headers, [], send_body=False)

    range_header = request.headers.get("range")
    if range_header and _if_range_allows(request.headers.get("if-range"), etag, opened.mtime):
        ranges = _parse_ranges(range_header, size)
        if ranges == []:
            headers["Content-Range"] = f"bytes */{size}"
            headers["Content-Length"] = "0"
            return FileResponse(opened, 416, headers, [], send_body=False)
        if ranges:
            return _partial(opened, headers, ranges, media_type, send_body=send_body)

    headers["Content-Type"] = media_type
    headers["Content-Length"] = str(size)
    return FileResponse(opened, 200, headers, [(0, size)], send_body=send_body)


def _if_range_allows(if_range: str | None, etag: str, mtime: float) -> bool:
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith(('"', "W/")):
        return _etag_matches(value, etag, weak=False)
    try:
        return int(mtime) <= email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return False


def _partial(
    opened: OpenedFile,
    headers: dict[str, str],
    ranges: list[tuple[int, int]],
    media_type: str,
    *,
    send_body: bool,
) -> Response:
    size = opened.size
    if len(ranges) == 1:
        start, end = ranges[0]
        headers["Content-Type"] = media_type
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1)
        return FileResponse(opened, 206, headers, [(start, end - start + 1)], send_body=send_body)
    boundary = secrets.token_hex(16)
    pieces: list[bytes | tuple[int, int]] = []
    length = 0
    for start, end in ranges:
        head = (
            f"--{boundary}\r\nContent-Type: {media_type}\r\n"
            f"Content-Range: bytes {start}-{end}/{size}\r\n\r\n"
        ).encode()
        pieces += [head, (start, end - start + 1), b"\r\n"]
        length += len(head) + end - start + 1 + 2
    tail = f"--{boundary}--\r\n".encode()
    pieces.append(tail)
    length += len(tail)
    headers["Content-Type"] = f"multipart/byteranges; boundary={boundary}"
    headers["Content-Length"] = str(length)
    return FileResponse(opened, 206, headers, pieces, send_body=send_body)
