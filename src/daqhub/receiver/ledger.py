"""Invalid-token attempts counted in the shared database (spec §3.1, checklist 31).

A guesser must meet the same limit whichever worker process or replica its requests reach, so
attempts and blocks live in daqhub's database, not in one process's memory. Each failure is one
row; the failure that reaches the limit within the window turns into a block row (and the
address's attempts are forgotten, as a block starts a fresh count). Each process keeps a copy
of the blocks, refreshed every second, so that checking a request costs no query; a process
that has not yet seen a block learns of it at the next invalid token from that address, which
then gets 429 like everywhere else.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from daqhub.core.db import Database, utcnow
from daqhub.receiver.models import ReceiverAuthBlock, ReceiverAuthFailure


class AuthFailureLedger:
    def __init__(self, db: Database, *, limit: int, window: float, block: float) -> None:
        self._db = db
        self.limit = limit
        self.window = timedelta(seconds=window)
        self.block = timedelta(seconds=block)

    def record(self, address: str) -> tuple[datetime | None, bool]:
        """Record one invalid token from ``address``.

        Returns (the end of the block now in force, whether it already was before this
        attempt); (None, False) when the address is not blocked.
        """
        address = address[:64]
        now = utcnow()
        with self._db.write() as session:
            until = session.scalar(
                select(ReceiverAuthBlock.until).where(ReceiverAuthBlock.address == address)
            )
            if until is not None and until > now:
                return until, True
            session.add(ReceiverAuthFailure(address=address, at=now))
            session.flush()
            count = session.scalar(
                select(func.count())
                .select_from(ReceiverAuthFailure)
                .where(
                    ReceiverAuthFailure.address == address,
                    ReceiverAuthFailure.at > now - self.window,
                )
            )
            if (count or 0) < self.limit:
                return None, False
            until = now + self.block
            insert = postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert
            session.execute(
                insert(ReceiverAuthBlock)
                .values(address=address, until=until)
                .on_conflict_do_update(index_elements=["address"], set_={"until": until})
            )
            session.execute(
                delete(ReceiverAuthFailure).where(ReceiverAuthFailure.address == address)
            )
            return until, False

    def blocks(self) -> dict[str, datetime]:
        """Every block in force: address -> end."""
        with self._db.read() as session:
            rows = session.execute(
                select(ReceiverAuthBlock.address, ReceiverAuthBlock.until).where(
                    ReceiverAuthBlock.until > utcnow()
                )
            ).all()
            return {row.address: row.until for row in rows}

    def prune(self) -> None:
        """Forget attempts older than the window and blocks that ended."""
        now = utcnow()
        with self._db.write() as session:
            session.execute(
                delete(ReceiverAuthFailure).where(ReceiverAuthFailure.at <= now - self.window)
            )
            session.execute(delete(ReceiverAuthBlock).where(ReceiverAuthBlock.until <= now))
