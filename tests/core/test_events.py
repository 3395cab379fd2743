"""The event bus on both backends: the in-process twin and a real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from daqhub.core.events import Event, EventBus, MemoryBus, RedisBus


def ev(event_id: int, kind: str = "connectivity.connection.added") -> Event:
    return Event(
        type=kind, id=event_id, time="2026-01-01T00:00:00.000000+00:00", data={"n": event_id}
    )


BusFactory = Callable[[], EventBus]


@pytest.fixture(params=["memory", "redis"])
def make_bus(request: pytest.FixtureRequest) -> BusFactory:
    if request.param == "memory":
        shared = MemoryBus(history=100, queue_size=10)
        return lambda: shared
    url = request.getfixturevalue("redis_url")
    prefix = f"daqhub-test-{uuid.uuid4().hex[:8]}"
    return lambda: RedisBus(url, prefix=prefix, history=100, queue_size=10)


async def started(bus: EventBus) -> EventBus:
    await bus.start()
    return bus


async def drain(sub: AsyncIterator[Event] | object, count: int) -> list[Event]:
    out = []
    while len(out) < count:
        event = await sub.get(timeout=3)  # type: ignore[attr-defined]
        assert event is not None, f"only {len(out)} of {count} events arrived"
        out.append(event)
    return out


def test_publish_subscribe_filter_and_order(make_bus: BusFactory) -> None:
    async def scenario() -> None:
        publisher = await started(make_bus())
        consumer = await started(make_bus())  # another process, for Redis
        everything = await consumer.subscribe()
        receiver_only = await consumer.subscribe(types=["receiver.*"])
        await publisher.publish([ev(1), ev(2, "receiver.file.received"), ev(3)])
        assert [e.id for e in await drain(everything, 3)] == [1, 2, 3]
        assert [e.id for e in await drain(receiver_only, 1)] == [2]
        assert await receiver_only.get(timeout=0.2) is None
        everything.close()
        receiver_only.close()
        await publisher.stop()
        if consumer is not publisher:
            await consumer.stop()

    asyncio.run(scenario())


def test_resume_after_last_event_id(make_bus: BusFactory) -> None:
    async def scenario() -> None:
        bus = await started(make_bus())
        await bus.publish([ev(i) for i in range(1, 6)])
        await asyncio.sleep(0.1)  # let the Redis reader deliver to the local history
        later = await started(make_bus())
        resumed = await later.subscribe(after_id=3)
        assert [e.id for e in await drain(resumed, 2)] == [4, 5]
        await bus.publish([ev(6)])
        assert [e.id for e in await drain(resumed, 1)] == [6]
        resumed.close()
        await bus.stop()
        if later is not bus:
            await later.stop()

    asyncio.run(scenario())


def test_slow_consumer_loses_oldest_not_the_publisher() -> None:
    async def scenario() -> None:
        bus = MemoryBus(history=100, queue_size=3)
        sub = await bus.subscribe()
        await bus.publish([ev(i) for i in range(1, 11)])
        assert [e.id for e in await drain(sub, 3)] == [8, 9, 10]
        assert sub.dropped == 7

    asyncio.run(scenario())


def test_repeated_ids_are_delivered_once() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        sub = await bus.subscribe()
        await bus.publish([ev(1), ev(2)])
        await bus.publish([ev(2), ev(1), ev(3)])  # at-least-once upstream
        assert [e.id for e in await drain(sub, 3)] == [1, 2, 3]
        assert await sub.get(timeout=0.1) is None

    asyncio.run(scenario())


def test_envelope_round_trip() -> None:
    event = ev(7)
    assert Event.from_json(event.to_json()) == event
    assert set(event.to_dict()) == {"type", "id", "time", "data"}
