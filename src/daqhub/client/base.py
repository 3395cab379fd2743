"""The HTTP plumbing every daqhub client shares.

Clients take a base URL and optionally a token and an ``http`` object. ``http`` is anything with
httpx's ``request(method, url, ...)`` interface: by default an ``httpx.Client``; tests pass
Starlette's ``TestClient`` to talk to an in-process app. This package imports none of the
server's dependencies (FastAPI, SQLAlchemy, h5py, astropy), so it installs light on DAQ hosts.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

import httpx


class HttpLike(Protocol):
    def request(self, method: str, url: str, **kwargs: Any) -> Any: ...


class DaqhubClientError(Exception):
    """A request that daqhub answered with an error status."""

    def __init__(self, status: int, body: Any, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class BaseClient:
    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        *,
        token: str | None = None,
        http: HttpLike | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self._owned = http is None
        self.http: HttpLike = http if http is not None else _default_http(timeout)

    def close(self) -> None:
        if self._owned and isinstance(self.http, httpx.Client):
            self.http.close()

    def __enter__(self) -> BaseClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"} if self.token else {}

    def request(
        self, method: str, path: str, *, expect: tuple[int, ...] = (200,), **kwargs: Any
    ) -> Any:
        headers = {**self._auth_headers(), **kwargs.pop("headers", {})}
        response = self.http.request(method, self.url + path, headers=headers, **kwargs)
        if response.status_code not in expect:
            body = response_body(response)
            raise DaqhubClientError(
                response.status_code,
                body,
                f"{method} {path} answered {response.status_code}: {body}",
            )
        return response


def response_body(response: Any) -> Any:
    """The decoded JSON body of a response, or its text when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return response.text


def _default_http(timeout: float) -> HttpLike:
    return cast(HttpLike, httpx.Client(timeout=timeout))
