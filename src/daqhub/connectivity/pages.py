"""The HTML pages of the original: the dump at ``/`` and the statistics pages.

Everything that came from a client is HTML-escaped. The dump renders at most
``dump_row_limit`` entries so that it stays fast however large the state is; expired entries are
wrapped in ``<strike>`` (tests and operators look for that string, so nothing else on the page
may contain it).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from sqlalchemy import func, select

from daqhub.connectivity.models import ConnEntry, ConnPartition
from daqhub.connectivity.registry import Registry
from daqhub.connectivity.stats import StatCounters


@dataclass(frozen=True)
class DumpRow:
    partition: str
    uid: str
    uri: str
    data_type: str
    connection_type: int
    capacity: int
    age: float


def load_dump(registry: Registry, limit: int) -> tuple[list[str], list[DumpRow], int, float]:
    """(partition names, first ``limit`` entries in partition order, entries left out, ttl)."""
    with registry.db.read() as session:
        now = registry.now(session)
        names = list(session.scalars(select(ConnPartition.name).order_by(ConnPartition.name)))
        total = session.scalar(select(func.count()).select_from(ConnEntry)) or 0
        rows = session.execute(
            select(
                ConnPartition.name,
                ConnEntry.uid,
                ConnEntry.uri,
                ConnEntry.data_type,
                ConnEntry.connection_type,
                ConnEntry.capacity,
                ConnEntry.last_published,
            )
            .join(ConnPartition, ConnPartition.id == ConnEntry.partition_id)
            .order_by(ConnPartition.name, ConnEntry.seq)
            .limit(limit)
        ).all()
    dump = [DumpRow(p, u, uri, dt, ct, cap, now - lp) for p, u, uri, dt, ct, cap, lp in rows]
    return names, dump, max(total - len(dump), 0), registry.ttl


def render_dump(names: list[str], rows: list[DumpRow], hidden: int, ttl: float) -> str:
    by_partition: dict[str, list[DumpRow]] = {name: [] for name in names}
    for row in rows:
        by_partition.setdefault(row.partition, []).append(row)
    parts = ["<h1>Dump of configuration dictionary</h1>"]
    for name, entries in by_partition.items():
        parts.append(f"<h2>Partition {escape(name)}</h2><ul>")
        for e in entries:
            text = (
                f"{escape(e.uid)}: uri={escape(e.uri)} data_type={escape(e.data_type)} "
                f"connection_type={e.connection_type} capacity={e.capacity} age={e.age:.1f}s"
            )
            if e.age >= ttl:
                text = f'<span class="expired"><strike>{text}</strike></span>'
            parts.append(f"<li>{text}</li>")
        parts.append("</ul>")
    if hidden:
        parts.append(f"<p>\u2026 {hidden} more entries not shown</p>")
    return "".join(parts)


def render_stats(stats: StatCounters) -> str:
    def mean(total: int, calls: int) -> float:
        return total / calls if calls else 0.0

    return (
        "<h1>Connection server statistics</h1>"
        f"<p>{stats.publish_calls} calls to publish</p>"
        f"<p>{stats.connections_published} connections published</p>"
        f"<p>{stats.lookup_calls} calls to lookup, "
        f"{stats.connections_returned} connections returned</p>"
        f"<p>{stats.retract_calls} calls to retract</p>"
        f"<p>{stats.retract_partition_calls} calls to retract-partition</p>"
        f"<p>Publish time: mean {mean(stats.publish_time_total_us, stats.publish_calls):.0f} us, "
        f"max {stats.publish_time_max_us} us</p>"
        f"<p>Lookup time: mean {mean(stats.lookup_time_total_us, stats.lookup_calls):.0f} us, "
        f"max {stats.lookup_time_max_us} us</p>"
    )


def page(body: str, title: str = "Connection server") -> str:
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"</head><body>{body}</body></html>"
    )
