"""The event bus: one envelope, two backends (in-process and Redis).

Envelope (DESIGN.md, shared contract 8)::

    {"type": "<service>.<event>", "id": <increasing int>, "time": "<UTC ISO>", "data": {...}}

Events are produced through the transactional outbox (:mod:`daqhub.core.outbox`), which gives
them their ids and hands them to a bus. Subscribers get an async iterator of events with an
optional type filter and resume point. Each process fans events out to its own subscribers from
one local dispatcher; the Redis backend adds cross-process and cross-host delivery and a shared
history (a Redis stream) for ``Last-Event-ID`` resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    type: str
    id: int
    time: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "time": self.time, "data": self.data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), default=str)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        obj = json.loads(raw)
        return cls(type=obj["type"], id=int(obj["id"]), time=obj["time"], data=obj.get("data", {}))


def type_matches(event_type: str, patterns: Iterable[str] | None) -> bool:
    """``patterns`` of exact types or prefixes ending in ``.`` or ``*`` (``connectivity.*``)."""
    if patterns is None:
        return True
    for pattern in patterns:
        if pattern.endswith("*"):
            if event_type.startswith(pattern[:-1]):
                return True
        elif pattern.endswith("."):
            if event_type.startswith(pattern):
                return True
        elif event_type == pattern:
            return True
    return False


class Subscription:
    """A bounded queue of events for one consumer. Slow consumers lose the oldest events and
    are told so through :attr:`dropped`, never block the publisher."""

    def __init__(
        self,
        hub: LocalFanout,
        predicate: Callable[[Event], bool] | None,
        maxsize: int,
    ) -> None:
        self._hub = hub
        self._predicate = predicate
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0
        self.closed = False

    def offer(self, event: Event) -> None:
        if self.closed or (self._predicate is not None and not self._predicate(event)):
            return
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self._queue.get_nowait()
                    self.dropped += 1

    async def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None on timeout or close."""
        if self.closed and self._queue.empty():
            return None
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while not self.closed:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._hub.remove(self)
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)


class LocalFanout:
    """Delivers events to this process's subscribers and keeps a short history for resume."""

    def __init__(self, history: int, queue_size: int) -> None:
        self._subscribers: set[Subscription] = set()
        self._history: deque[Event] = deque(maxlen=max(history, 1))
        self._queue_size = queue_size
        self._seen: set[int] = set()
        self._seen_order: deque[int] = deque()
        self._seen_limit = max(history, 1000) * 2
        self.last_id = 0

    def deliver(self, event: Event) -> None:
        # Upstream delivery is at least once; drop repeats so each subscriber sees an id once.
        if event.id in self._seen:
            return
        self._seen.add(event.id)
        self._seen_order.append(event.id)
        if len(self._seen_order) > self._seen_limit:
            self._seen.discard(self._seen_order.popleft())
        self.last_id = max(self.last_id, event.id)
        self._history.append(event)
        for sub in list(self._subscribers):
            sub.offer(event)

    def subscribe(
        self,
        *,
        types: Iterable[str] | None = None,
        after_id: int | None = None,
        predicate: Callable[[Event], bool] | None = None,
        history: Iterable[Event] = (),
    ) -> Subscription:
        type_list = list(types) if types is not None else None

        def accept(event: Event) -> bool:
            return type_matches(event.type, type_list) and (predicate is None or predicate(event))

        sub = Subscription(self, accept, self._queue_size)
        if after_id is not None:
            replay = {e.id: e for e in history}
            replay.update({e.id: e for e in self._history})
            for event_id in sorted(replay):
                if event_id > after_id:
                    sub.offer(replay[event_id])
        self._subscribers.add(sub)
        return sub

    def remove(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def recent(self) -> list[Event]:
        return list(self._history)


class EventBus(Protocol):
    """What the outbox relay publishes to and what streams subscribe to."""

    shared: bool
    """True when one publication reaches every process (so only one process must publish)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, events: list[Event]) -> None: ...

    async def subscribe(
        self,
        *,
        types: Iterable[str] | None = None,
        after_id: int | None = None,
        predicate: Callable[[Event], bool] | None = None,
    ) -> Subscription: ...

    def subscriber_count(self) -> int: ...


class MemoryBus:
    """In-process bus: the embedded default, and the twin used to test logic above the bus."""

    shared = False

    def __init__(self, *, history: int = 10_000, queue_size: int = 1000) -> None:
        self.fanout = LocalFanout(history, queue_size)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, events: list[Event]) -> None:
        for event in events:
            self.fanout.deliver(event)

    async def subscribe(
        self,
        *,
        types: Iterable[str] | None = None,
        after_id: int | None = None,
        predicate: Callable[[Event], bool] | None = None,
    ) -> Subscription:
        return self.fanout.subscribe(types=types, after_id=after_id, predicate=predicate)

    def subscriber_count(self) -> int:
        return self.fanout.subscriber_count


class RedisBus:
    """Redis pub/sub for live delivery plus a capped stream for resume, across processes and hosts.

    One channel ``<prefix>:events`` carries every event; each process runs one reader task that
    feeds its local subscribers. The stream ``<prefix>:events:history`` keeps the last ``history``
    events so a subscriber resuming after a gap (or a process that just started) can catch up.
    """

    shared = True

    def __init__(
        self, url: str, *, prefix: str = "daqhub", history: int = 10_000, queue_size: int = 1000
    ) -> None:
        self._url = url
        self._redis: Any = None
        self._channel = f"{prefix}:events"
        self._stream = f"{prefix}:events:history"
        self._history = history
        self.fanout = LocalFanout(history, queue_size)
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(self._url)
        self._ready = asyncio.Event()
        await self._redis.ping()
        self._reader = asyncio.create_task(self._read_loop(), name="daqhub-redis-events")
        await asyncio.wait_for(self._ready.wait(), 10)

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def publish(self, events: list[Event]) -> None:
        if not events:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for event in events:
                payload = event.to_json()
                if self._history:
                    pipe.xadd(self._stream, {"e": payload}, maxlen=self._history, approximate=True)
                pipe.publish(self._channel, payload)
            await pipe.execute()

    async def _read_loop(self) -> None:
        backoff = 0.1
        while True:
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(self._channel)
                self._ready.set()
                backoff = 0.1
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        self.fanout.deliver(Event.from_json(message["data"]))
                    except (ValueError, KeyError) as exc:
                        log.warning("ignoring a malformed event on %s: %s", self._channel, exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: reconnect with backoff
                log.warning("event bus connection to Redis lost (%s); reconnecting", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _history_after(self, after_id: int) -> list[Event]:
        if not self._history:
            return []
        rows = await self._redis.xrevrange(self._stream, count=self._history)
        events = []
        for _sid, fields in rows:
            try:
                event = Event.from_json(fields[b"e"])
            except (ValueError, KeyError):
                continue
            if event.id <= after_id:
                break
            events.append(event)
        return events

    async def subscribe(
        self,
        *,
        types: Iterable[str] | None = None,
        after_id: int | None = None,
        predicate: Callable[[Event], bool] | None = None,
    ) -> Subscription:
        history = await self._history_after(after_id) if after_id is not None else []
        return self.fanout.subscribe(
            types=types, after_id=after_id, predicate=predicate, history=history
        )

    def subscriber_count(self) -> int:
        return self.fanout.subscriber_count
