"""The receiver's metadata index (spec §4.1): one row per upload whose payload was received.

A row follows its file through the states ``stored`` -> ``superseded`` | ``consumed`` and
``invalid`` -> ``purged``. ``inode`` identifies the exact file a ``stored`` row describes, so a
reader can tell the file it opened from a later replacement of the same name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from daqhub.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow

STATES = ("stored", "superseded", "consumed", "invalid", "purged")


class ReceiverUpload(Base):
    __tablename__ = "receiver_uploads"
    __table_args__ = (
        Index("ix_receiver_uploads_filename_state", "filename", "state"),
        Index("ix_receiver_uploads_run_agent", "run", "agent"),
        Index("ix_receiver_uploads_timestamp", "timestamp"),
        Index("ix_receiver_uploads_received_at", "received_at"),
        Index("ix_receiver_uploads_state", "state"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    upload_id: Mapped[str] = mapped_column(String(36), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    agent: Mapped[str] = mapped_column(String(255))
    agent_raw: Mapped[str] = mapped_column(Text)
    run: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    data_status: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    objects: Mapped[dict[str, str] | None] = mapped_column(JSONType, nullable=True)
    contents: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    token_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)
    supersedes: Mapped[str | None] = mapped_column(String(36), nullable=True)
    processing_compatible: Mapped[bool] = mapped_column(Boolean, default=True)
    origin: Mapped[str] = mapped_column(String(16), default="upload")
    stored_name: Mapped[str] = mapped_column(String(255))
    inode: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    integrity_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class ReceiverAuthFailure(Base):
    """One invalid-token attempt (spec §3.1 throttling), kept for one window."""

    __tablename__ = "receiver_auth_failures"
    __table_args__ = (
        Index("ix_receiver_auth_failures_address_at", "address", "at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReceiverAuthBlock(Base):
    """An address refused with 429 until ``until`` after too many invalid tokens."""

    __tablename__ = "receiver_auth_blocks"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    until: Mapped[datetime] = mapped_column(UTCDateTime)
