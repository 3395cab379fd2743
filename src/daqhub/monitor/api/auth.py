"""Who is calling, with the original's exact failure bodies (spec §3.4).

Credentials are ``Authorization: Token <key>`` checked against daqhub's token store (scope
``monitor``, or ``admin``), or a web session once the UI provides one (:data:`SessionResolver`;
session-authenticated unsafe requests must carry a CSRF token). A header with another scheme is
ignored, and no address or identity header (``X-Remote-User``) is ever trusted.

A route declares a :class:`Policy` per method:

* ``OPEN``: the Authorization header is never looked at (log ingestion, legacy MCP);
* ``ANON``: anonymous is fine, but a bad token is still refused (403), as on DRF reads;
* ``AUTH``: credentials required, 403 without;
* ``TOKEN``: token required, 401 with ``WWW-Authenticate: Token`` without.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Callable

from starlette.requests import Request

from daqhub.core.auth import Principal, TokenStore
from daqhub.core.http import client_address
from daqhub.monitor.errors import NotAuthenticated, PermissionDenied

SCOPE = "monitor"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

SessionResolver = Callable[[Request], Principal | None]
"""Maps a request's session cookie to its user (provided by the web UI; none by default)."""


class Policy(enum.Enum):
    OPEN = "open"
    ANON = "anon"
    AUTH = "auth"
    TOKEN = "token"


class Authenticator:
    def __init__(self, tokens: TokenStore, session: SessionResolver | None = None) -> None:
        self.tokens = tokens
        self.session = session

    def check(self, request: Request, policy: Policy) -> Principal | None:
        """The caller, or a NotAuthenticated / PermissionDenied carrying the exact body."""
        if policy is Policy.OPEN:
            return None
        challenge = policy is Policy.TOKEN
        principal = self._token(request, challenge)
        if principal is None and self.session is not None and not challenge:
            principal = self.session(request)
            if principal is not None and request.method not in SAFE_METHODS:
                _check_csrf(request)
        if policy is Policy.ANON:
            return principal
        if principal is None:
            raise NotAuthenticated(challenge=challenge)
        if not principal.has_scope(SCOPE):
            raise PermissionDenied()
        return principal

    def _token(self, request: Request, challenge: bool) -> Principal | None:
        header = request.headers.get("authorization")
        if not header:
            return None
        parts = header.split()
        if not parts or parts[0].lower() != "token":
            return None
        if len(parts) == 1:
            raise NotAuthenticated(
                "Invalid token header. No credentials provided.", challenge=challenge
            )
        if len(parts) > 2:
            raise NotAuthenticated(
                "Invalid token header. Token string should not contain spaces.",
                challenge=challenge,
            )
        principal = self.tokens.verify(parts[1], client=client_address(request))
        if principal is None:
            raise NotAuthenticated("Invalid token.", challenge=challenge)
        if not principal.user_active:
            raise NotAuthenticated("User inactive or deleted.", challenge=challenge)
        return principal


def _check_csrf(request: Request) -> None:
    cookie = request.cookies.get("csrftoken")
    sent = request.headers.get("x-csrftoken")
    if not sent:
        raise PermissionDenied("CSRF Failed: CSRF token missing.")
    if not cookie or not hmac.compare_digest(cookie, sent):
        raise PermissionDenied("CSRF Failed: CSRF token incorrect.")
