"""Client of the workflow monitor API, and a logging handler that ships records to it.

:class:`MonitorClient` speaks the routes agents use (heartbeats, counters, runs, files, logs ...)
plus generic access to every collection. :class:`RestLogHandler` posts each log record the way
the testbed's REST logging handler does (naive local timestamps, no credentials), so an agent
can switch to it without changing what the server stores.
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any, cast

import httpx

from daqhub.client.base import BaseClient, DaqhubClientError, HttpLike

__all__ = ["LOG_EXTRA_KEYS", "MonitorClient", "RestLogHandler"]

LOG_EXTRA_KEYS = ("execution_id", "workflow_name", "run_id", "username")
"""Attributes of a log record copied into ``extra_data`` (the testbed's handler does this)."""


class MonitorClient(BaseClient):
    """The monitor's REST API. ``url`` includes any mount prefix (``https://host/swf-monitor``)."""

    def __enter__(self) -> MonitorClient:
        return self

    # -- generic collections -----------------------------------------------------------------

    def list(self, resource: str, **filters: Any) -> builtins.list[dict[str, Any]]:
        """Every object of ``resource`` (e.g. ``"stf-files"``) matching exact-match filters."""
        return builtins.list(
            self.request("GET", f"/api/{resource}/", params=_params(filters)).json()
        )

    def page(self, resource: str, *, limit: int, offset: int = 0, **filters: Any) -> dict[str, Any]:
        """One page: ``{"count", "next", "previous", "results"}``."""
        params = {**_params(filters), "limit": limit, "offset": offset}
        return dict(self.request("GET", f"/api/{resource}/", params=params).json())

    def get(self, resource: str, key: Any) -> dict[str, Any]:
        return dict(self.request("GET", f"/api/{resource}/{key}/").json())

    def create(self, resource: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.request("POST", f"/api/{resource}/", json=body, expect=(201,)).json())

    def update(
        self, resource: str, key: Any, body: dict[str, Any], *, partial: bool = True
    ) -> dict[str, Any]:
        method = "PATCH" if partial else "PUT"
        return dict(self.request(method, f"/api/{resource}/{key}/", json=body).json())

    def delete(self, resource: str, key: Any) -> None:
        self.request("DELETE", f"/api/{resource}/{key}/", expect=(204,))

    # -- agents ----------------------------------------------------------------------------------

    def heartbeat(self, instance_name: str, **fields: Any) -> dict[str, Any]:
        """Register or refresh an agent; omitted identity fields reset to their defaults."""
        body = {"instance_name": instance_name, **fields}
        return dict(
            self.request(
                "POST", "/api/systemagents/heartbeat/", json=body, expect=(200, 201)
            ).json()
        )

    def agents(self, **filters: Any) -> builtins.list[dict[str, Any]]:
        return self.list("systemagents", **filters)

    def register_subscriber(self, subscriber_name: str, **fields: Any) -> dict[str, Any] | None:
        """Create a subscriber; None when one of that name exists (an agent restart)."""
        try:
            return self.create("subscribers", {"subscriber_name": subscriber_name, **fields})
        except DaqhubClientError as exc:
            text = str(exc.body).lower()
            if exc.status == 400 and "already exists" in text and "subscriber" in text:
                return None
            raise

    # -- counters and namespaces -----------------------------------------------------------------

    def _counter(self, path: str, key: str) -> int:
        return int(self.request("POST", f"/api/state/{path}/").json()[key])

    def next_run_number(self) -> int:
        return self._counter("next-run-number", "run_number")

    def next_agent_id(self) -> int:
        return self._counter("next-agent-id", "agent_id")

    def next_workflow_execution_id(self) -> int:
        return self._counter("next-workflow-execution-id", "sequence")

    def ensure_namespace(self, name: str, owner: str, description: str = "") -> dict[str, Any]:
        body = {"name": name, "owner": owner, "description": description}
        return dict(self.request("POST", "/api/namespaces/ensure/", json=body).json())

    # -- logs --------------------------------------------------------------------------------------

    def post_log(self, record: dict[str, Any]) -> dict[str, Any]:
        return dict(self.request("POST", "/api/logs/", json=record, expect=(201,)).json())

    def logs(self, *, limit: int | None = None, **filters: Any) -> builtins.list[dict[str, Any]]:
        """Logs, newest first (the server caps an unpaged list; ``limit`` pages it)."""
        if limit is None:
            return self.list("logs", **filters)
        return builtins.list(self.page("logs", limit=limit, **filters)["results"])

    def log_summary(self, **filters: Any) -> dict[str, Any]:
        return dict(self.request("GET", "/api/logs/summary/", params=_params(filters)).json())

    def tail_logs(
        self,
        *,
        last: int = 20,
        follow: bool = False,
        interval: float = 2.0,
        polls: int | None = None,
        **filters: Any,
    ) -> Iterator[dict[str, Any]]:
        """The ``last`` newest records oldest first, then (``follow``) new ones as they arrive."""
        recent = self.logs(limit=max(last, 1), **filters) if last > 0 else []
        after = max((r["id"] for r in recent), default=0)
        if last <= 0:
            newest = self.logs(limit=1, **filters)
            after = newest[0]["id"] if newest else 0
        yield from sorted(recent, key=lambda r: r["id"])
        done = 0
        while follow and (polls is None or done < polls):
            time.sleep(interval)
            done += 1
            fresh = self.logs(limit=1000, after_id=after, **filters)
            for record in sorted(fresh, key=lambda r: int(r["id"])):
                after = max(after, record["id"])
                yield record


def _params(filters: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in filters.items():
        if value is None:
            continue
        out[key] = str(value).lower() if isinstance(value, bool) else value
    return out


class RestLogHandler(logging.Handler):
    """Posts every record to ``<base_url>/api/logs/`` as the testbed's REST handler does.

    Timestamps are naive local time (``datetime.fromtimestamp(record.created).isoformat()``);
    the server reads them in its ``naive_timezone``. No credentials are sent. When a post fails
    the record goes to ``fallback`` (if given), and the first failure is reported once on the
    ``daqhub.client.monitor`` logger.
    """

    def __init__(
        self,
        base_url: str,
        app_name: str,
        instance_name: str,
        *,
        timeout: float = 5.0,
        http: HttpLike | None = None,
        fallback: logging.Handler | None = None,
    ) -> None:
        super().__init__()
        self.logs_url = f"{base_url.rstrip('/')}/api/logs/"
        self.app_name = app_name
        self.instance_name = instance_name
        self.fallback = fallback
        self._owned = http is None
        self.http: HttpLike = (
            http if http is not None else cast(HttpLike, httpx.Client(timeout=timeout))
        )
        self.failed = False

    def payload(self, record: logging.LogRecord) -> dict[str, Any]:
        extra = {k: getattr(record, k) for k in LOG_EXTRA_KEYS if hasattr(record, k)}
        return {
            "app_name": self.app_name,
            "instance_name": self.instance_name,
            "timestamp": datetime.fromtimestamp(record.created).isoformat(),
            "level": record.levelno,
            "levelname": record.levelname,
            "message": record.getMessage(),
            "module": record.module or "unknown",
            "funcname": record.funcName or "unknown",
            "lineno": record.lineno or 0,
            "process": record.process or 0,
            "thread": record.thread or 0,
            "extra_data": extra or None,
        }

    def emit(self, record: logging.LogRecord) -> None:
        try:
            response = self.http.request("POST", self.logs_url, json=self.payload(record))
            if response.status_code != 201:
                raise DaqhubClientError(
                    response.status_code, response.text, f"log post answered {response.status_code}"
                )
        except Exception as exc:
            if not self.failed:
                self.failed = True
                logging.getLogger("daqhub.client.monitor").warning(
                    "sending logs to %s failed: %s", self.logs_url, exc
                )
            if self.fallback is not None:
                self.fallback.emit(record)

    def close(self) -> None:
        if self._owned and isinstance(self.http, httpx.Client):
            self.http.close()
        super().close()
