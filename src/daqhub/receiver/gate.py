"""Who may talk to the receiver: the ``token`` header, throttling of guessers, scopes
(spec §2.3, §3.1).

Order on every compatibility route: (route matched) -> throttle -> token -> scope. The token is
read from ``token:`` (any case), else from ``Authorization: Bearer|Token``. After
``auth_fail_limit`` invalid tokens within ``auth_fail_window`` seconds from one address, every
token-bearing request from it gets 429 for ``auth_block_seconds``; trusted networks are exempt.
The counters are per process, which bounds guessing to that many attempts per worker.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from daqhub.core.auth import Principal, TokenStore
from daqhub.core.db import utcnow
from daqhub.core.http import bearer_or_token, client_address
from daqhub.receiver.errors import (
    ApiForbidden,
    NotAuthenticated,
    ScopeDenied,
    Throttled,
    TokenInvalid,
    TokenMissing,
)
from daqhub.receiver.ledger import AuthFailureLedger

UI_COOKIE = "daqhub_receiver_token"
"""The web pages keep the signed-in token here (HttpOnly, SameSite=Strict)."""

UPLOAD = "receiver:upload"
LIST = "receiver:list"
DOWNLOAD = "receiver:download"
ANY = (UPLOAD, LIST, DOWNLOAD)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Throttle:
    """Per-address sliding window of invalid-token attempts.

    Attempts are counted in the shared database (the ledger), so every process and replica
    applies one limit; this object keeps a copy of the blocks for quick checks (:meth:`refresh`
    copies them every second) and exempts the trusted networks.
    """

    def __init__(
        self,
        ledger: AuthFailureLedger,
        trusted: list[str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.trusted: list[IpNetwork] = [ipaddress.ip_network(n, strict=False) for n in trusted]
        self.clock = clock
        self._blocked: dict[str, float] = {}
        self._lock = threading.Lock()
        self._ledger = ledger

    def _exempt(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def retry_after(self, address: str) -> float | None:
        """Seconds until ``address`` may try again, or None when it is not blocked."""
        with self._lock:
            until = self._blocked.get(address)
            if until is None:
                return None
            left = until - self.clock()
            if left <= 0:
                del self._blocked[address]
                return None
            return left

    def failure(self, address: str) -> float | None:
        """Count one invalid token from ``address`` (blocking I/O: a database write).

        Returns the seconds left of a block that was already in force, so that the request
        gets 429 even where this process had not seen the block yet; else None.
        """
        if self._exempt(address):
            return None
        until, already = self._ledger.record(address)
        if until is None:
            return None
        left = (until - utcnow()).total_seconds()
        self._merge({address: left})
        return max(left, 0.0) if already else None

    def refresh(self) -> None:
        """Copy the blocks in force from the ledger (periodic, in every process)."""
        now = utcnow()
        self._merge({a: (u - now).total_seconds() for a, u in self._ledger.blocks().items()})

    def _merge(self, seconds_left: dict[str, float]) -> None:
        now = self.clock()
        with self._lock:
            for address, left in seconds_left.items():
                until = now + left
                if until > self._blocked.get(address, 0.0):
                    self._blocked[address] = until
            self._blocked = {a: u for a, u in self._blocked.items() if u > now}


def presented_token(request: Request) -> str | None:
    """The ``token`` header (wins), else an ``Authorization`` credential; None when absent."""
    values = request.headers.getlist("token")
    if values:
        return ", ".join(v.strip() for v in values)
    return bearer_or_token(request)


class Gate:
    def __init__(
        self, tokens: TokenStore, throttle: Throttle, on_failure: Callable[[str], None]
    ) -> None:
        self.tokens = tokens
        self.throttle = throttle
        self._on_failure = on_failure

    async def check(self, request: Request, scopes: tuple[str, ...]) -> Principal:
        """The principal, or the receiver's token error; ``scopes``: any one of them suffices."""
        value = presented_token(request)
        if value is None:
            self._on_failure("missing")
            raise TokenMissing()
        return await self._verify(
            value, client_address(request), scopes, invalid=TokenInvalid, denied=ScopeDenied
        )

    async def check_api(
        self, request: Request, scopes: tuple[str, ...], *, open_access: bool = False
    ) -> Principal | None:
        """daqhub API authentication: a token header, ``Authorization`` or the web cookie.

        401 without valid credentials, 403 without the scope; None for anonymous requests when
        ``open_access`` lets them read.
        """
        value = presented_token(request) or request.cookies.get(UI_COOKIE)
        if not value:
            if open_access:
                return None
            self._on_failure("missing")
            raise NotAuthenticated()
        return await self.authorize(value, client_address(request), scopes)

    async def authorize(self, value: str, address: str, scopes: tuple[str, ...]) -> Principal:
        """A presented credential, daqhub API style: 429, 401 or 403, else the principal."""
        return await self._verify(
            value, address, scopes, invalid=NotAuthenticated, denied=ApiForbidden
        )

    async def _verify(
        self,
        value: str,
        address: str,
        scopes: tuple[str, ...],
        *,
        invalid: type[Exception],
        denied: type[Exception],
    ) -> Principal:
        """Throttle, verify and check scopes; the two wire styles differ only in their errors."""
        left = self.throttle.retry_after(address)
        if left is not None:
            self._on_failure("throttled")
            raise Throttled(left)
        principal = await run_in_threadpool(self.tokens.verify, value, client=address)
        if principal is None:
            left = await run_in_threadpool(self.throttle.failure, address)
            if left is not None:  # blocked elsewhere already: 429 here too
                self._on_failure("throttled")
                raise Throttled(left)
            self._on_failure("invalid")
            raise invalid()
        if not any(principal.has_scope(scope) for scope in scopes):
            self._on_failure("scope")
            raise denied()
        return principal
