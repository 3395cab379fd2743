"""Server-Sent Events from the event bus: resumable (``Last-Event-ID``), filtered, with
keep-alive comments so proxies do not close idle streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable

from starlette.requests import Request
from starlette.responses import StreamingResponse

from daqhub.core.events import Event, EventBus

KEEPALIVE_SECONDS = 15.0


def format_event(event: Event, *, name: str | None = None) -> str:
    data = json.dumps(event.to_dict(), separators=(",", ":"), default=str)
    return f"id: {event.id}\nevent: {name or event.type}\ndata: {data}\n\n"


def last_event_id(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if raw and raw.strip().isdigit():
        return int(raw.strip())
    return None


async def stream_events(
    request: Request,
    bus: EventBus,
    *,
    types: Iterable[str] | None = None,
    predicate: Callable[[Event], bool] | None = None,
    keepalive: float = KEEPALIVE_SECONDS,
) -> StreamingResponse:
    subscription = await bus.subscribe(
        types=types, after_id=last_event_id(request), predicate=predicate
    )

    async def body() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            while True:
                event = await subscription.get(timeout=keepalive)
                if await request.is_disconnected():
                    return
                if event is None:
                    if subscription.closed:
                        return
                    yield ": keepalive\n\n"
                    continue
                yield format_event(event)
        except asyncio.CancelledError:
            raise
        finally:
            subscription.close()

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
