"""The worker's door (agent/starts.py): turns start in the order they came, and before others' later words.

The door itself is driven with plain coroutines; the last test sends a burst through the real ASGI
application (Django, DRF, the loop, aiobotocore) to the Bedrock stand-in, in this process.
"""
import asyncio
import json

import pytest

from agent import starts
from bench.turn_cpu import chat_post


def test_turns_get_their_places_in_the_order_they_came(monkeypatch):
    monkeypatch.setattr(starts, "SLOTS", 2)
    order = []

    async def turn(index):
        await starts.enter()
        order.append(index)
        await asyncio.sleep(0)  # set-up: the others queue meanwhile
        await asyncio.sleep(0)
        starts.started()

    async def burst():
        await asyncio.gather(*(turn(index) for index in range(40)))
        return starts.door()

    door = asyncio.run(burst())
    assert order == list(range(40))
    assert door.busy == 0 and not door.waiting and not starts.queued()


def test_a_place_is_given_up_after_hold_and_a_cancelled_wait_takes_none(monkeypatch):
    monkeypatch.setattr(starts, "SLOTS", 1)
    monkeypatch.setattr(starts, "HOLD", 0.05)

    async def scenario():
        await starts.enter()  # holds the only place and never says `started` (a slow database, say)
        door = starts.door()
        waiting = asyncio.ensure_future(door.enter())
        cancelled = asyncio.ensure_future(door.enter())
        await asyncio.sleep(0)
        cancelled.cancel()
        ticket = await asyncio.wait_for(waiting, 1)  # given the place once HOLD passed
        assert door.busy == 1 and not door.waiting
        ticket.release()
        ticket.release()  # once only
        return door

    door = asyncio.run(scenario())
    assert door.busy == 0 and not starts.queued()


def test_a_streaming_turn_gives_way_while_turns_wait_at_the_door(monkeypatch):
    monkeypatch.setattr(starts, "SLOTS", 1)
    monkeypatch.setattr(starts, "TOKEN_WAIT", 5)
    events = []

    async def scenario():
        await starts.enter()
        door = starts.door()
        queued = asyncio.ensure_future(door.enter())
        await asyncio.sleep(0)

        async def token():
            await starts.give_way()
            events.append("token")

        forwarded = asyncio.ensure_future(token())
        await asyncio.sleep(0.02)
        events.append("started")
        starts.started()  # the queued turn gets the place: nobody waits, the token goes on
        (await queued).release()
        await asyncio.wait_for(forwarded, 1)

    asyncio.run(scenario())
    assert events == ["started", "token"]


def test_a_token_waits_no_longer_than_token_wait(monkeypatch):
    monkeypatch.setattr(starts, "SLOTS", 1)
    monkeypatch.setattr(starts, "TOKEN_WAIT", 0.02)

    async def scenario():
        await starts.enter()
        queued = asyncio.ensure_future(starts.door().enter())
        await asyncio.sleep(0)
        await asyncio.wait_for(starts.give_way(), 1)  # the door stays busy: the token goes on anyway
        queued.cancel()

    asyncio.run(scenario())


@pytest.mark.django_db(transaction=True)
def test_in_a_burst_the_first_turn_is_sent_to_bedrock_before_the_last_is_validated(settings, monkeypatch,
                                                                                     standin_server):
    """#32: asyncio ran a burst breadth-first: every turn was validated before the first Bedrock request
    left (72 ms into a burst of 100, measured). Through the door, the first turns go out at once."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", standin_server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    settings.FINTALK_LLM = "bedrock"
    settings.FINTALK_API_KEYS = ["sk-burst"]
    settings.FINTALK_CALL_RECORDS = False
    settings.BEDROCK_FALLBACK_MODEL_IDS = []
    from agent import bedrock
    from agent import tools as agent_tools
    from api import views
    from fintalk.asgi import application

    timeline = []
    requested = views._requested

    def validated(*args, **kwargs):
        timeline.append("validated")
        return requested(*args, **kwargs)

    monkeypatch.setattr(views, "_requested", validated)
    body = json.dumps({"model": "amazon.nova-lite-v1:0", "stream": True,
                       "messages": [{"role": "user", "content": "Tell me something nice."}]}).encode()

    async def turn():
        scope, receive, done = chat_post(body, "sk-burst")
        chunks = []

        async def send(message):
            chunks.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await application(scope, receive, send)
        return chunks

    async def burst():
        client = await bedrock.client()
        client.meta.events.register("before-send.bedrock-runtime.ConverseStream",
                                    lambda **_: timeline.append("sent"))
        try:
            return await asyncio.gather(*(turn() for _ in range(starts.SLOTS + 24)))
        finally:
            await bedrock.close()

    try:
        results = asyncio.run(burst())
    finally:
        agent_tools.agent_tool_specs.cache_clear()
    assert all(chunks[0]["status"] == 200 and b"[DONE]" in chunks[-2]["body"] for chunks in results)
    assert timeline.count("validated") == timeline.count("sent") == starts.SLOTS + 24
    assert timeline.index("sent") < len(timeline) - 1 - timeline[::-1].index("validated")
