"""What a service plugs into the server: set-up once per process, routes once per listener.

Services never import each other. The app factory (:mod:`daqhub.app`) knows the list of services
and asks each for its routes on every listener that serves it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from daqhub.core.errors import ErrorFormats

if TYPE_CHECKING:
    from daqhub.core.runtime import Runtime

SERVICE_NAMES = ("connectivity", "receiver", "monitor", "dpm", "broker", "broker-slow", "ui")


@dataclass(frozen=True)
class Listener:
    """One listening address and the services it serves (``None``: all of them)."""

    host: str
    port: int
    services: frozenset[str] | None = None

    def serves(self, service: str) -> bool:
        return self.services is None or service in self.services

    def restricted_to(self, service: str) -> bool:
        """True when this listener serves only ``service``: its per-port rules then apply."""
        return self.services is not None and self.services == {service}

    @property
    def label(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        names = "" if self.services is None else "=" + ",".join(sorted(self.services))
        return f"{host}:{self.port}{names}"


def parse_listener(spec: str) -> Listener:
    """``HOST:PORT[=SERVICE,...]``; IPv6 hosts in brackets."""
    address, _, names = spec.partition("=")
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"listen address must be HOST:PORT[=SERVICE,...], got {spec!r}")
    host = host.strip("[]") or "127.0.0.1"
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"port out of range in {spec!r}")
    services = None
    if names:
        chosen = frozenset(n.strip() for n in names.split(",") if n.strip())
        unknown = chosen - set(SERVICE_NAMES)
        if unknown:
            raise ValueError(
                f"unknown service(s) {', '.join(sorted(unknown))} in {spec!r}; "
                f"known: {', '.join(SERVICE_NAMES)}"
            )
        services = chosen
    return Listener(host, port, services)


RootHandler = Callable[[Request], Awaitable[Response]]
HomeSection = Callable[[], str]


class Service:
    """Base of every service; override what the service needs."""

    name: str = ""

    def setup(self, runtime: Runtime) -> None:
        """Create the service's state and register its background tasks (once per process)."""

    def mount(
        self, app: FastAPI, runtime: Runtime, listener: Listener, formats: ErrorFormats
    ) -> None:
        """Add routes and error formats to the app of one listener."""

    def root_handler(self, runtime: Runtime) -> RootHandler | None:
        """Who answers ``/`` requests that are not the home page (the receiver's token check)."""
        return None

    def home_section(self, runtime: Runtime) -> HomeSection | None:
        """HTML to show on the home page (the connectivity dump)."""
        return None
