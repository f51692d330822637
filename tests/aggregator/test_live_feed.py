"""The live feed never makes ingest wait: a client that falls behind is dropped, others carry on."""

from __future__ import annotations

import asyncio

from impetus.aggregator.live import LiveFeed


def test_a_slow_client_is_dropped_while_a_keeping_up_client_gets_everything():
    async def scenario() -> tuple[list[int], bool, list[object]]:
        feed = LiveFeed(queue_size=4)
        feed.attach(asyncio.get_running_loop())
        slow, quick = feed.subscribe(), feed.subscribe()
        got: list[int] = []
        for n in range(10):
            await asyncio.to_thread(feed.publish_threadsafe, {"n": n})  # as ingest does, from a thread
            await asyncio.sleep(0)
            got.append((await quick.queue.get())["n"])
        leftovers = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
        return got, slow.dropped, leftovers

    got, slow_dropped, slow_queue = asyncio.run(scenario())
    assert got == list(range(10))
    assert slow_dropped
    assert slow_queue == [None]  # the end marker: the WebSocket closes with 1013


def test_publishing_after_the_loop_is_gone_does_nothing():
    feed = LiveFeed()
    loop = asyncio.new_event_loop()
    feed.attach(loop)
    loop.close()
    feed.publish_threadsafe({"n": 1})
