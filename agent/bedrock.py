"""Amazon Bedrock: the worker's one aiobotocore client, and ConverseStream read as neutral events.

The client is built lazily inside the worker's event loop (an aiobotocore client belongs to the
loop that made it; building one per call costs ~40 ms of CPU), never at import time, warmed by
the ASGI lifespan and closed at shutdown (`close`). botocore's standard retry mode is the only
retry layer. The stream's parsed events are read directly: text deltas as they come, `toolUse`
blocks once whole, `stopReason` from `messageStop` and usage from `metadata`. The HTTP response
is closed in `finally`, so a caller who hangs up stops the Bedrock stream too.
"""
import asyncio
import json
import weakref
from contextlib import AsyncExitStack
from typing import AsyncIterator

import orjson
from botocore.exceptions import EventStreamError
from django.conf import settings

from agent.converse import ModelEvent, Stop, Text, ToolUse, Usage


class _LoopClient:
    def __init__(self):
        self.lock = asyncio.Lock()
        self.stack: AsyncExitStack | None = None
        self.client = None


_per_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient]" = weakref.WeakKeyDictionary()


def _botocore_config():
    from botocore.config import Config

    return Config(
        connect_timeout=settings.BEDROCK_CONNECT_TIMEOUT,
        read_timeout=settings.BEDROCK_READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": settings.BEDROCK_MAX_ATTEMPTS},
        max_pool_connections=settings.BEDROCK_MAX_POOL_CONNECTIONS,
    )


async def client():
    """This event loop's bedrock-runtime client, built on first use."""
    slot = _per_loop.get(asyncio.get_running_loop())
    if slot is None:
        slot = _per_loop.setdefault(asyncio.get_running_loop(), _LoopClient())
    if slot.client is None:
        async with slot.lock:
            if slot.client is None:
                from aiobotocore.session import get_session

                stack = AsyncExitStack()
                # No endpoint_url: botocore itself honours AWS_ENDPOINT_URL_BEDROCK_RUNTIME.
                slot.client = await stack.enter_async_context(get_session().create_client(
                    "bedrock-runtime", region_name=settings.AWS_REGION, config=_botocore_config()))
                slot.stack = stack
    return slot.client


async def close() -> None:
    """Close this loop's client (ASGI lifespan shutdown)."""
    slot = _per_loop.pop(asyncio.get_running_loop(), None)
    if slot and slot.stack is not None:
        await slot.stack.aclose()


async def stream(request: dict) -> AsyncIterator[ModelEvent]:
    """One ConverseStream call as Text / ToolUse / Stop / Usage events."""
    response = await (await client()).converse_stream(**request)
    events = response["stream"]
    open_tools: dict[int, tuple[str, str, list[str]]] = {}
    try:
        async for event in _parsed(events):
            if "contentBlockDelta" in event:
                block = event["contentBlockDelta"]
                delta = block["delta"]
                if "text" in delta:
                    yield Text(delta["text"])
                elif "toolUse" in delta and block["contentBlockIndex"] in open_tools:
                    open_tools[block["contentBlockIndex"]][2].append(delta["toolUse"].get("input", ""))
            elif "contentBlockStart" in event:
                start = event["contentBlockStart"]
                tool = start.get("start", {}).get("toolUse")
                if tool:
                    open_tools[start["contentBlockIndex"]] = (tool["toolUseId"], tool["name"], [])
            elif "contentBlockStop" in event:
                tool = open_tools.pop(event["contentBlockStop"]["contentBlockIndex"], None)
                if tool:
                    yield ToolUse(tool[0], tool[1], _arguments("".join(tool[2])))
            elif "messageStop" in event:
                yield Stop(event["messageStop"].get("stopReason"))
            elif "metadata" in event:
                usage = event["metadata"].get("usage") or {}
                yield Usage(int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0)))
    finally:
        events.close()


async def _parsed(events) -> AsyncIterator[dict]:
    """The stream's events as `{event type: payload}` dicts, as botocore's parser gives them.

    botocore decodes each frame (prelude, headers, CRCs) and then runs its generic shape parser
    over the JSON payload to build that same dict: ~0.05 ms an event, about a tenth of a turn's
    CPU, measured (bench/turn_cpu.py). ConverseStream's payloads are the event objects as they
    are, so the frames botocore decoded are read with orjson instead; exceptions are raised as
    botocore raises them (`EventStreamError`, the exception type as the error code).
    """
    frames = getattr(events, "_event_generator", None)
    if frames is None:  # another aiobotocore: its parsed events, the same dicts
        async for event in events:
            yield event
        return
    async for frame in frames:
        headers = frame.headers
        kind = headers.get(":message-type")
        if kind == "event":
            yield {headers[":event-type"]: orjson.loads(frame.payload)}
        elif kind == "exception":
            message = orjson.loads(frame.payload or b"{}").get("message", "")
            raise EventStreamError({"Error": {"Code": headers.get(":exception-type", ""), "Message": message}},
                                   "ConverseStream")
        elif kind == "error":
            raise EventStreamError({"Error": {"Code": headers.get(":error-code", ""),
                                              "Message": headers.get(":error-message", "")}}, "ConverseStream")


def _arguments(text: str) -> dict:
    """A toolUse block's input; a model that wrote something other than a JSON object gets {}."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
