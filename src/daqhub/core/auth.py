"""One token store for every service.

A token is a secret string. The database keeps only ``HMAC-SHA-256(server key, value)``, so a
stolen database yields no usable token; the key lives outside it (``<data_dir>/secret.key`` or
``DAQHUB_SECRET_KEY``). Generated values are 40 lowercase hex characters (160 bits), the key format
ePIC tooling greps for; ``--value`` imports any non-empty printable string (a deployed
legacy token).

Scopes: ``admin`` grants everything; ``receiver`` grants ``receiver:upload``, ``receiver:list`` ...
(a scope grants every sub-scope written ``<scope>:<name>``).

Each service reads the token from its own header (``token:``, ``Authorization: Token``, ``Bearer``)
and calls :meth:`TokenStore.verify`. Verified tokens are cached for ``auth.cache_seconds`` (default
2 s), which bounds how long a revoked token keeps working on any process.

Rotation gives a token a new value under the same name and scopes; the previous value keeps
working for an overlap period (``previous_digest`` / ``previous_expires_at``), so that senders
can be switched one by one. Every change (create, import, rotate, revoke) is written to the
``daqhub.audit`` log with who made it; values never are.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from daqhub.core.db import Base, Database, JSONType, UTCDateTime, utcnow

if TYPE_CHECKING:
    from daqhub.settings import Settings

SCOPES = ("admin", "connectivity", "receiver", "monitor", "pcs", "dpm", "broker")
"""Top-level scopes; sub-scopes are written ``<scope>:<name>`` (e.g. ``receiver:upload``)."""

TOKEN_NAME_MAX = 100

audit = logging.getLogger("daqhub.audit")


class AuthError(Exception):
    """A token operation that cannot be done (duplicate name, unknown user ...)."""


class TokenConflict(AuthError):
    """The name or the value is already taken."""


class TokenNotFound(AuthError):
    """No active token has that name."""


class User(Base):
    """A person (or robot account) that can own tokens and log in to the web UI."""

    __tablename__ = "auth_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(TOKEN_NAME_MAX), unique=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("auth_users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    label: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_addr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    previous_digest: Mapped[str | None] = mapped_column(
        String(64), unique=True, index=True, nullable=True
    )
    previous_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for."""

    token_id: int
    token_name: str
    scopes: frozenset[str]
    user_id: int | None = None
    username: str | None = None
    user_active: bool = True
    is_staff: bool = False

    def has_scope(self, scope: str) -> bool:
        if "admin" in self.scopes or scope in self.scopes:
            return True
        parent = scope.split(":", 1)[0]
        return parent != scope and parent in self.scopes

    @property
    def display_name(self) -> str:
        """The name recorded as creator (PCS ``created_by``): the owner, else ``token:<name>``."""
        return self.username if self.username else f"token:{self.token_name}"


@dataclass(frozen=True)
class TokenInfo:
    name: str
    scopes: list[str]
    username: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    rotated_at: datetime | None = None
    previous_expires_at: datetime | None = None
    """Until when the value before the last rotation still works (None: it no longer does)."""

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def as_json(self) -> dict[str, object]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "name": self.name,
            "scopes": self.scopes,
            "user": self.username,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "revoked_at": iso(self.revoked_at),
            "last_used_at": iso(self.last_used_at),
            "rotated_at": iso(self.rotated_at),
            "previous_expires_at": iso(self.previous_expires_at),
            "state": self.state(utcnow()),
        }


def load_secret_key(data_dir: Path, configured: str | None) -> bytes:
    """The HMAC key: the configured value, else ``<data_dir>/secret.key`` (created 0600)."""
    if configured:
        return configured.encode()
    path = data_dir / "secret.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, key.encode())
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    value = path.read_text().strip()
    if not value:
        raise AuthError(f"{path} is empty")
    return value.encode()


def generate_token() -> str:
    return secrets.token_hex(20)


def _plain_value(imported: str | None) -> str:
    """The value a new token or rotation gets: the imported one (checked) or a generated one."""
    if imported is None:
        return generate_token()
    if not imported or not imported.isprintable():
        raise AuthError("an imported token value must be a non-empty printable string")
    return imported


def validate_scopes(scopes: Iterable[str]) -> list[str]:
    result = []
    for scope in scopes:
        if scope.split(":", 1)[0] not in SCOPES:
            raise AuthError(f"unknown scope {scope!r}; known: {', '.join(SCOPES)}")
        result.append(scope)
    return sorted(set(result))


class TokenStore:
    """Create, verify, list and revoke tokens; safe to share between threads."""

    def __init__(
        self,
        db: Database,
        secret: bytes,
        *,
        cache_seconds: float = 2.0,
        last_used_interval: float = 60.0,
        rotation_overlap: timedelta = timedelta(days=1),
    ) -> None:
        self._db = db
        self._secret = secret
        self._cache_seconds = cache_seconds
        self._last_used_interval = last_used_interval
        self._rotation_overlap = rotation_overlap
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._last_used_written: dict[int, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> TokenStore:
        """The store as configured: key, cache, last-use interval and rotation overlap.

        Every entry point (server, CLI) builds its store here, so a setting such as
        ``auth.rotation_overlap`` is read in one place.
        """
        configured = settings.secret_key.get_secret_value() if settings.secret_key else None
        auth_settings = settings.auth
        return cls(
            db,
            load_secret_key(settings.data_dir, configured),
            cache_seconds=auth_settings.cache_seconds,
            last_used_interval=auth_settings.last_used_interval,
            rotation_overlap=timedelta(seconds=auth_settings.rotation_overlap),
        )

    def digest(self, value: str) -> str:
        return hmac.new(
            self._secret, value.encode("utf-8", "surrogateescape"), hashlib.sha256
        ).hexdigest()

    def create(
        self,
        name: str,
        *,
        scopes: Iterable[str] = ("admin",),
        value: str | None = None,
        username: str | None = None,
        create_user: bool = False,
        expires_at: datetime | None = None,
        label: str = "",
        actor: str = "cli",
    ) -> str:
        """Store a new token and return its plain value (shown once, never stored)."""
        if not name or len(name) > TOKEN_NAME_MAX:
            raise AuthError("token name must be 1 to 100 characters")
        plain = _plain_value(value)
        scope_list = validate_scopes(scopes)
        with self._db.write() as session:
            if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
                raise TokenConflict(f"a token named {name!r} already exists")
            digest = self.digest(plain)
            self._refuse_used_value(session, digest)
            user_id = None
            if username is not None:
                user_id = self._user_id(session, username, create=create_user)
            session.add(
                ApiToken(
                    name=name,
                    digest=digest,
                    scopes=scope_list,
                    user_id=user_id,
                    expires_at=expires_at,
                    label=label,
                )
            )
        audit.info(
            "token %r %s by %s (scopes %s)",
            name,
            "imported" if value is not None else "created",
            actor,
            ",".join(scope_list),
        )
        return plain

    @staticmethod
    def _refuse_used_value(session: Session, digest: str) -> None:
        in_use = session.scalar(
            select(ApiToken.id).where(
                or_(ApiToken.digest == digest, ApiToken.previous_digest == digest)
            )
        )
        if in_use is not None:
            raise TokenConflict("that token value is already in use")

    def rotate(
        self,
        name: str,
        *,
        overlap: timedelta | None = None,
        value: str | None = None,
        actor: str = "cli",
    ) -> tuple[str, datetime | None]:
        """Give a live token a new value; the old one keeps working for ``overlap``.

        Without ``overlap``, the store's configured rotation overlap applies.

        Returns (new plain value, until when the old value works, None for no overlap). A value
        from an earlier rotation whose overlap has not ended stops working now: there is at most
        one previous value.
        """
        if overlap is None:
            overlap = self._rotation_overlap
        if overlap < timedelta(0):
            raise AuthError("the overlap cannot be negative")
        plain = _plain_value(value)
        now = utcnow()
        with self._db.write() as session:
            token = session.scalar(
                select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
            )
            if token is None or (token.expires_at is not None and token.expires_at <= now):
                raise TokenNotFound(f"no active token named {name!r}")
            digest = self.digest(plain)
            self._refuse_used_value(session, digest)
            until = now + overlap if overlap > timedelta(0) else None
            token.previous_digest = token.digest if until is not None else None
            token.previous_expires_at = until
            token.digest = digest
            token.rotated_at = now
        self._forget_cached()
        audit.info(
            "token %r rotated by %s (previous value valid until %s)",
            name,
            actor,
            until.isoformat() if until else "now",
        )
        return plain, until

    def _forget_cached(self) -> None:
        with self._lock:
            self._cache.clear()

    @staticmethod
    def _user_id(session: Session, username: str, *, create: bool) -> int:
        user_id = session.scalar(select(User.id).where(User.username == username))
        if user_id is not None:
            return int(user_id)
        if not create:
            raise AuthError(f'user "{username}" does not exist')
        user = User(username=username)
        session.add(user)
        session.flush()
        return user.id

    def ensure_user(self, username: str, **fields: object) -> int:
        with self._db.write() as session:
            user_id = self._user_id(session, username, create=True)
            if fields:
                session.execute(update(User).where(User.id == user_id).values(**fields))
            return user_id

    def revoke(self, name: str, *, actor: str = "cli") -> bool:
        """Revoke by name (its previous value too); True if a live token was revoked."""
        with self._db.write() as session:
            result = session.execute(
                update(ApiToken)
                .where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            changed = bool(result.rowcount)  # type: ignore[attr-defined]
        self._forget_cached()
        if changed:
            audit.info("token %r revoked by %s", name, actor)
        return changed

    def list(self, name: str | None = None) -> list[TokenInfo]:
        """Every token (or the one named ``name``), by name; never a value."""
        query = (
            select(ApiToken, User.username)
            .outerjoin(User, User.id == ApiToken.user_id)
            .order_by(ApiToken.name)
        )
        if name is not None:
            query = query.where(ApiToken.name == name)
        now = utcnow()
        with self._db.read() as session:
            rows = session.execute(query).all()
            return [
                TokenInfo(
                    name=t.name,
                    scopes=list(t.scopes),
                    username=u,
                    created_at=t.created_at,
                    expires_at=t.expires_at,
                    revoked_at=t.revoked_at,
                    last_used_at=t.last_used_at,
                    rotated_at=t.rotated_at,
                    previous_expires_at=(
                        t.previous_expires_at
                        if t.previous_expires_at is not None and t.previous_expires_at > now
                        else None
                    ),
                )
                for t, u in rows
            ]

    def verify(self, value: str | None, *, client: str | None = None) -> Principal | None:
        """The principal of a currently valid token, or None (wrong, revoked, expired)."""
        if not value:
            return None
        digest = self.digest(value)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < self._cache_seconds:
            principal = cached[1]
        else:
            principal = self._load(digest)
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = (now, principal)
        if principal is not None:
            self._touch(principal.token_id, client, now)
        return principal

    def _load(self, digest: str) -> Principal | None:
        with self._db.read() as session:
            row = session.execute(
                select(ApiToken, User)
                .outerjoin(User, User.id == ApiToken.user_id)
                .where(or_(ApiToken.digest == digest, ApiToken.previous_digest == digest))
            ).first()
            # Read the attributes inside the unit of work: its closing rollback expires them.
            if row is None:
                return None
            token, user = row
            # The index lookup found it; compare anyway in constant time (second line of defence).
            current = hmac.compare_digest(token.digest, digest)
            previous = token.previous_digest is not None and hmac.compare_digest(
                token.previous_digest, digest
            )
            if not (current or previous):
                return None
            if not current and (
                token.previous_expires_at is None or token.previous_expires_at <= utcnow()
            ):
                return None  # a value rotated out whose overlap has ended
            if token.revoked_at is not None:
                return None
            if token.expires_at is not None and token.expires_at <= utcnow():
                return None
            return Principal(
                token_id=token.id,
                token_name=token.name,
                scopes=frozenset(token.scopes),
                user_id=user.id if user else None,
                username=user.username if user else None,
                user_active=user.is_active if user else True,
                is_staff=bool(user and (user.is_staff or user.is_superuser)),
            )

    def _touch(self, token_id: int, client: str | None, now: float) -> None:
        """Record last use, at most once per ``last_used_interval`` per token and process."""
        with self._lock:
            last = self._last_used_written.get(token_id)
            if last is not None and now - last < self._last_used_interval:
                return
            self._last_used_written[token_id] = now
        try:
            with self._db.write() as session:
                session.execute(
                    update(ApiToken)
                    .where(ApiToken.id == token_id)
                    .values(last_used_at=utcnow(), last_used_addr=(client or "")[:64])
                )
        except Exception:  # bookkeeping must never fail a request
            with self._lock:
                self._last_used_written.pop(token_id, None)
