"""The stored-name convention Overwatch processing depends on (spec §2.6.1-§2.6.3).

Upload headers -> :class:`UploadMeta` -> ``<agent>histos_<run>_DQM_<YYYY_MM_DD_HH_mm_ss>.root``,
sanitised exactly like Werkzeug's ``secure_filename`` on POSIX, with the time rendered in
Europe/Zurich local time (IANA rules, historical ones included). Parsing follows Python's
``int()`` because that is what the original did; its error text is the wire message.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

ZURICH = ZoneInfo("Europe/Zurich")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
NAME_MAX_BYTES = 255
MODE = "DQM"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class HeaderValueError(ValueError):
    """A metadata header the receiver refuses; ``str(exc)`` is the wire message."""


def secure_filename(name: str) -> str:
    """Werkzeug's ``secure_filename`` on POSIX, step for step (spec §2.6.2)."""
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    name = name.replace("/", " ")
    return _UNSAFE.sub("", "_".join(name.split())).strip("._")


def parse_int(raw: str | None, default: int) -> int:
    """Python's ``int()`` on the header value; its ValueError text is kept verbatim."""
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise HeaderValueError(str(exc)) from None


def zurich_time(timestamp: int) -> datetime:
    """The local Europe/Zurich time of a Unix timestamp; OverflowError outside datetime's range."""
    return (EPOCH + timedelta(seconds=timestamp)).astimezone(ZURICH)


def render_time(timestamp: int) -> str:
    return zurich_time(timestamp).strftime("%Y_%m_%d_%H_%M_%S")


@dataclass(frozen=True)
class UploadMeta:
    """What the upload headers say about a file, and the name it is stored under."""

    run: int
    timestamp: int
    agent_raw: str
    data_status: int
    filename: str
    agent: str

    @property
    def time_utc(self) -> datetime:
        return EPOCH + timedelta(seconds=self.timestamp)

    @property
    def time_local(self) -> datetime:
        return zurich_time(self.timestamp)


def stored_name(agent_raw: str, run: int, time_text: str) -> tuple[str, str]:
    """(sanitised filename, sanitised agent part of it)."""
    suffix = f"histos_{run}_{MODE}_{time_text}.root"
    filename = secure_filename(f"{agent_raw}{suffix}")
    # The suffix is made of safe characters only, so the sanitised name always ends with it.
    agent = filename[: -len(suffix)] if filename.endswith(suffix) else ""
    return filename, agent


def parse_upload_headers(
    run_raw: str | None,
    timestamp_raw: str | None,
    agent_raw: str | None,
    status_raw: str | None,
) -> UploadMeta:
    """Parse in the original's order; the first failure wins (spec §2.6.1)."""
    run = parse_int(run_raw, -1)
    timestamp = parse_int(timestamp_raw, -1)
    data_status = parse_int(status_raw, -1)
    agent = MODE if agent_raw is None else agent_raw.strip()
    if not INT64_MIN <= run <= INT64_MAX:
        raise HeaderValueError(f"runNumber out of range: {run}")
    try:
        local = zurich_time(timestamp)
    except (OverflowError, ValueError):
        local = None
    if local is None or not 1900 <= local.year <= 9999:
        raise HeaderValueError(f"timeStamp out of range: {timestamp}")
    if not INT64_MIN <= data_status <= INT64_MAX:
        raise HeaderValueError(f"dataStatus out of range: {data_status}")
    filename, agent_part = stored_name(agent, run, local.strftime("%Y_%m_%d_%H_%M_%S"))
    if len(filename.encode()) > NAME_MAX_BYTES:
        raise HeaderValueError("amoreAgent too long")
    return UploadMeta(run, timestamp, agent, data_status, filename, agent_part)


def is_listable_name(name: str) -> bool:
    """The listing's name rule (spec §2.5): contains DQM case-insensitively, not hidden."""
    return bool(name) and not name.startswith(".") and "DQM" in name.upper()


def processing_compatible(agent: str, subsystems: list[str]) -> bool:
    """False when Overwatch processing would misread (``_`` in the agent) or ignore the file."""
    return "_" not in agent and any(sub in agent for sub in subsystems)
