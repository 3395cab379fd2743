"""Settings of the DQM receiver (spec/receiver.md).

Keys are the spec's names (``receiver.max_upload_bytes`` ...); in the environment they are
``DAQHUB_RECEIVER__MAX_UPLOAD_BYTES`` and so on. Directories left unset are placed under the
server's data directory (DESIGN.md, shared contract 6): ``<data_dir>/receiver`` for the data
folder, with the hidden ``.daqhub-incoming`` and ``.daqhub-quarantine`` inside it.
"""

from __future__ import annotations

import grp
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, Field, field_validator

MIB = 1024 * 1024
GIB = 1024 * MIB
DAY = 86_400.0


@dataclass(frozen=True)
class ReceiverPaths:
    """Where the receiver keeps files, resolved against the server's data directory."""

    data_dir: Path
    incoming_dir: Path
    quarantine_dir: Path


class ReceiverSettings(BaseModel):
    LEGACY_ENV: ClassVar[dict[str, tuple[str, ...]]] = {}

    data_dir: Path | None = Field(
        default=None,
        description="The Overwatch data folder (flat, valid uploads). Default <data_dir>/receiver.",
    )
    incoming_dir: Path | None = Field(
        default=None,
        description="Temporary files; must be on data_dir's filesystem. Default "
        "<receiver data_dir>/.daqhub-incoming.",
    )
    quarantine_dir: Path | None = Field(
        default=None,
        description="Invalid payloads. Default <receiver data_dir>/.daqhub-quarantine.",
    )
    max_upload_bytes: int = Field(
        default=256 * MIB, gt=0, description="Largest request body accepted (413 beyond it)."
    )
    max_concurrent_uploads: int = Field(
        default=16,
        gt=0,
        description="Uploads processed at once by this server (all its workers); more wait.",
    )
    busy_wait: float = Field(
        default=10.0, ge=0, description="Seconds an upload waits for a slot before 503."
    )
    body_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds an upload may go without sending a body byte before it is "
        "abandoned (408): a stalled sender must not hold a processing slot for ever.",
    )
    min_free_bytes: int = Field(
        default=64 * MIB,
        ge=0,
        description="Free space kept on the data folder's filesystem: an upload that would "
        "leave less is answered 503 before its body is read.",
    )
    auth_fail_limit: int = Field(
        default=10, ge=1, description="Invalid tokens per address and window before 429."
    )
    auth_fail_window: float = Field(default=60.0, gt=0, description="Seconds, see auth_fail_limit.")
    auth_block_seconds: float = Field(
        default=60.0, gt=0, description="How long a throttled address gets 429."
    )
    trusted_networks: list[str] = Field(
        default_factory=list, description="CIDRs exempt from invalid-token throttling."
    )
    quarantine_retention: float = Field(
        default=7 * DAY, ge=0, description="Seconds quarantined payloads are kept (0: forever)."
    )
    temp_max_age: float = Field(
        default=3600.0, gt=0, description="Temporary files older than this (s) are removed."
    )
    direct_io: bool = Field(
        default=True,
        description="Uploads of 16 MiB and more are written with direct I/O, past the page "
        "cache (where the filesystem supports it).",
    )
    file_mode: int = Field(default=0o640, ge=0, le=0o7777, description="Mode of stored files.")
    file_group: str | None = Field(default=None, description="Group of stored files (name/gid).")
    subsystems: list[str] = Field(
        default_factory=lambda: ["EMC", "TPC", "HLT"],
        description="Names Overwatch processing recognises in file names.",
    )
    max_multipart_parts: int = Field(default=16, gt=0)
    max_part_header_bytes: int = Field(default=16 * 1024, gt=0)
    validation_workers: int = Field(
        default=2, ge=1, description="Sandboxed processes that open uploaded ROOT files."
    )
    validation_cpu_seconds: float = Field(default=30.0, gt=0)
    validation_memory_bytes: int = Field(default=1 * GIB, gt=0)
    validation_timeout: float = Field(
        default=60.0, gt=0, description="Wall-clock limit of one validation (s)."
    )
    max_decompressed_bytes: int = Field(
        default=1 * GIB, gt=0, description="Decompressed bytes one validation may read."
    )
    max_histogram_bins: int = Field(
        default=4_000_000, gt=0, description="Largest histogram served as JSON."
    )
    scan_interval: float = Field(
        default=10.0, gt=0, description="How often the data directory is compared with the index."
    )
    sweep_interval: float = Field(
        default=300.0, gt=0, description="How often stale temporary files are removed."
    )
    retention_interval: float = Field(
        default=3600.0, gt=0, description="How often expired quarantine files are purged."
    )
    scrub_interval: float = Field(
        default=3600.0, gt=0, description="How often stored files are re-hashed (a batch a time)."
    )
    scrub_batch_bytes: int = Field(default=1 * GIB, gt=0, description="Bytes re-hashed per pass.")
    live_window: float = Field(
        default=600.0, gt=0, description="A run is 'live' on the web page this long after a file."
    )
    mount_prefix: str = Field(
        default="/overwatch-receiver",
        description="The original's routes (token check, /rest/api/files) are also served under "
        "this path, for senders whose base URL must carry a path; empty: not at all.",
    )
    open_read_access: bool = Field(
        default=False,
        description="The daqhub API's read routes and the web pages need no token (the "
        "compatibility routes always do).",
    )

    @field_validator("file_mode", mode="before")
    @classmethod
    def _octal_mode(cls, value: object) -> object:
        # "0640" and "640" in a config file or the environment mean octal, as in chmod.
        if isinstance(value, str):
            text = value.strip().lower().removeprefix("0o")
            return int(text, 8)
        return value

    @field_validator("mount_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        plain = re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", value) and not {".", ".."} & set(
            value.split("/")
        )
        if value and not plain:
            raise ValueError("a path such as /overwatch-receiver (no trailing slash), or empty")
        return value

    @field_validator("trusted_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value

    def paths(self, root_data_dir: Path) -> ReceiverPaths:
        data_dir = (self.data_dir or root_data_dir / "receiver").expanduser().absolute()
        incoming = (self.incoming_dir or data_dir / ".daqhub-incoming").expanduser().absolute()
        quarantine = (
            (self.quarantine_dir or data_dir / ".daqhub-quarantine").expanduser().absolute()
        )
        return ReceiverPaths(data_dir, incoming, quarantine)

    def group_id(self) -> int | None:
        if self.file_group is None or self.file_group == "":
            return None
        if self.file_group.isdigit():
            return int(self.file_group)
        return grp.getgrnam(self.file_group).gr_gid
