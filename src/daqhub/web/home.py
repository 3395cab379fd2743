"""The daqhub home page: navigation first, then each service's section (the connectivity dump
with its statistics last, as drunc and operators expect at ``/``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from daqhub import __version__
from daqhub.core.service import HomeSection

if TYPE_CHECKING:
    from daqhub.core.runtime import Runtime

NAV_LINKS = (
    ("/ui/connectivity", "Connectivity"),
    ("/ui/receiver", "DQM receiver"),
    ("/docs", "API"),
    ("/metrics", "Metrics"),
)


def render_home(runtime: Runtime, sections: Sequence[HomeSection], bare: bool) -> str:
    body = "".join(section() for section in sections)
    if bare:
        return (
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>daqhub</title></head>'
            f"<body>{body}</body></html>"
        )
    nav = " | ".join(f'<a href="{href}">{label}</a>' for href, label in NAV_LINKS)
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>daqhub</title>'
        '<link rel="stylesheet" href="/static/daqhub.css"></head><body>'
        f"<nav><strong>daqhub {__version__}</strong> | {nav}</nav><main>{body}</main></body></html>"
    )
