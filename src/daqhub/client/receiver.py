"""Client of the DQM receiver: push ROOT files the way ALICE DQM does, list and fetch them, and
query daqhub's index of received files.

Uploads speak the original Overwatch wire format (``token`` header, ``runNumber``,
``timeStamp``, ``amoreAgent``, ``dataStatus``; multipart field ``file``), so the same client
works against daqhub and against the original receiver. Files are streamed from disk with a
known ``Content-Length`` (never read whole into memory), hashed on the way, and checked against
the ``X-Daqhub-Sha256`` daqhub answers with. A ``progress(sent, total)`` callback follows the
upload.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daqhub.client.base import BaseClient, DaqhubClientError, response_body

__all__ = ["ChecksumError", "ReceiverClient", "ReceiverRejected", "UploadResult"]

CHUNK = 1 << 20
Progress = Callable[[int, int], None]


class ReceiverRejected(DaqhubClientError):
    """The receiver refused the request (bad token, bad header, invalid ROOT file ...)."""


class ChecksumError(DaqhubClientError):
    """The server stored other bytes than the ones sent."""


@dataclass(frozen=True)
class UploadResult:
    filename: str
    received: dict[str, str]
    upload_id: str | None
    sha256: str
    body: dict[str, Any]


def _message(body: Any) -> str:
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, list):
            return "; ".join(str(m) for m in message)
        if message is not None:
            return str(message)
    return str(body)


class _Body:
    """The request body as an iterator of chunks, hashing the file and reporting progress."""

    def __init__(self, path: Path, prefix: bytes, suffix: bytes, progress: Progress | None) -> None:
        self.path = path
        self.prefix = prefix
        self.suffix = suffix
        self.progress = progress
        self.file_size = path.stat().st_size
        self.length = len(prefix) + self.file_size + len(suffix)
        self.hasher = hashlib.sha256()

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        self.hasher = hashlib.sha256()
        if self.prefix:
            yield self.prefix
            sent += len(self.prefix)
        with open(self.path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                self.hasher.update(chunk)
                yield chunk
                sent += len(chunk)
                if self.progress is not None:
                    self.progress(sent, self.length)
        if self.suffix:
            yield self.suffix
        if self.progress is not None:
            self.progress(self.length, self.length)


class ReceiverClient(BaseClient):
    """Talks to the receiver's routes (default port 8080, or daqhub's main listener)."""

    def _auth_headers(self) -> dict[str, str]:
        return {"token": self.token} if self.token else {}

    def _check(self, response: Any, path: str, expect: tuple[int, ...] = (200,)) -> Any:
        if response.status_code not in expect:
            body = response_body(response)
            raise ReceiverRejected(
                response.status_code, body, f"{path}: {response.status_code} {_message(body)}"
            )
        return response

    # -- the original API ----------------------------------------------------------------------

    def check_token(self) -> bool:
        """True when the token is valid (the receiver then answers "Not implemented")."""
        response = self.http.request("GET", self.url + "/", headers=self._auth_headers())
        return bool(
            response.status_code == 400
            and response_body(response) == {"message": "Not implemented"}
        )

    def send(
        self,
        path: str | os.PathLike[str],
        *,
        run: int,
        agent: str,
        timestamp: int | None = None,
        data_status: int | None = None,
        progress: Progress | None = None,
        multipart: bool = True,
    ) -> UploadResult:
        """Upload one ROOT file; the stored name and the objects the receiver found in it."""
        source = Path(path)
        headers = {
            **self._auth_headers(),
            "runNumber": str(int(run)),
            "timeStamp": str(int(time.time()) if timestamp is None else int(timestamp)),
            "amoreAgent": agent,
        }
        if data_status is not None:
            headers["dataStatus"] = str(int(data_status))
        if multipart:
            boundary = secrets.token_hex(16)
            prefix = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{_quoted(source.name)}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            suffix = f"\r\n--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        else:
            prefix = suffix = b""
            headers["Content-Type"] = "application/octet-stream"
        body = _Body(source, prefix, suffix, progress)
        headers["Content-Length"] = str(body.length)
        response = self.http.request(
            "POST", self.url + "/rest/api/files", content=iter(body), headers=headers
        )
        self._check(response, "/rest/api/files")
        answer = response_body(response)
        sha256 = body.hasher.hexdigest()
        stored_sha = response.headers.get("x-daqhub-sha256")
        if stored_sha is not None and stored_sha != sha256:
            raise ChecksumError(
                response.status_code, answer, f"sent sha256 {sha256}, server stored {stored_sha}"
            )
        return UploadResult(
            filename=str(answer["filename"]),
            received=dict(answer.get("received") or {}),
            upload_id=response.headers.get("x-daqhub-upload-id"),
            sha256=sha256,
            body=answer,
        )

    def list_files(self) -> list[str]:
        response = self.http.request(
            "GET", self.url + "/rest/api/files", headers=self._auth_headers()
        )
        return list(self._check(response, "/rest/api/files").json()["files"])

    def download(
        self, name: str, destination: str | os.PathLike[str], *, progress: Progress | None = None
    ) -> Path:
        """Stream one received file to ``destination`` (a file or a directory)."""
        target = Path(destination)
        if target.is_dir():
            target = target / name
        path = f"/rest/api/files/{name}"
        partial = target.with_name(f".{target.name}.part")
        stream = getattr(self.http, "stream", None)
        if stream is None:
            response = self._check(
                self.http.request("GET", self.url + path, headers=self._auth_headers()), path
            )
            partial.write_bytes(response.content)
        else:
            with stream("GET", self.url + path, headers=self._auth_headers()) as response:
                if response.status_code != 200:
                    response.read()
                    self._check(response, path)
                total = int(response.headers.get("content-length", 0))
                done = 0
                with open(partial, "wb") as handle:
                    for chunk in response.iter_bytes(CHUNK):
                        handle.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
        os.replace(partial, target)
        return target

    # -- daqhub's index ------------------------------------------------------------------------

    def _api(self, path: str, **params: Any) -> Any:
        # ``from`` is a Python keyword: accept start/end as its spelling in keyword arguments.
        renamed = {"start": "from", "end": "to"}
        clean = {renamed.get(k, k): v for k, v in params.items() if v is not None}
        response = self.http.request(
            "GET", self.url + "/api/v1/receiver" + path, params=clean, headers=self._auth_headers()
        )
        return self._check(response, path).json()

    def uploads(self, **filters: Any) -> list[dict[str, Any]]:
        """Index records, newest first; filters: run, agent, state, data_status, start/end
        (RFC 3339 or Unix seconds), time_field, limit (one page only when given)."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self._api("/uploads", **filters, cursor=cursor)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor or "limit" in filters:
                return items

    def upload(self, upload_id: str) -> dict[str, Any]:
        return dict(self._api(f"/uploads/{upload_id}"))

    def runs(self, **filters: Any) -> list[dict[str, Any]]:
        return list(self._api("/runs", **filters)["items"])

    def run(self, run: int) -> dict[str, Any]:
        return dict(self._api(f"/runs/{int(run)}"))

    def histogram(self, upload_id: str, object_path: str) -> dict[str, Any]:
        """One histogram's edges, values and errors (flow bins excluded)."""
        return dict(self._api(f"/uploads/{upload_id}/histograms/{object_path}"))


def _quoted(name: str) -> str:
    return name.replace("\\", "_").replace('"', "_").replace("\r", "_").replace("\n", "_")
