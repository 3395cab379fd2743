"""Agent routes: the heartbeat upsert and the agents list, which sweeps stale agents first."""

from __future__ import annotations

from starlette.responses import Response

from daqhub.monitor.agents import parse_heartbeat
from daqhub.monitor.api.auth import Policy
from daqhub.monitor.api.resources import add_resource, list_handler
from daqhub.monitor.api.routing import Call, Endpoint, Routes, respond
from daqhub.monitor.catalog import SYSTEM_AGENTS


def heartbeat(call: Call) -> Response:
    values = parse_heartbeat(call.object_data(), call.state.parse)
    agent, created = call.state.agents.heartbeat(values)
    return respond(agent, 201 if created else 200)


def _sweep(call: Call) -> None:
    call.state.agents.sweep_before_view()


def mount(routes: Routes) -> None:
    routes.add(
        "/api/systemagents/heartbeat/",
        "System Agent Heartbeat",
        {"POST": Endpoint(heartbeat, Policy.AUTH)},
        fallback=lambda _method: Policy.AUTH,
    )
    add_resource(
        routes,
        SYSTEM_AGENTS,
        list_endpoint=Endpoint(list_handler(SYSTEM_AGENTS, before=_sweep), Policy.ANON),
    )
