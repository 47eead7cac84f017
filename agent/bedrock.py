"""Amazon Bedrock: the worker's aiobotocore client, and ConverseStream read as neutral events.

The client is built lazily inside the worker's event loop (an aiobotocore client belongs to the
loop that made it; building one per call costs ~40 ms of CPU), never at import time, warmed by
the ASGI lifespan and closed at shutdown (`close`). botocore's standard retry mode is the only
retry layer, except where a fallback model waits (`failover_stream`): there a second client
makes one attempt, since another model answers sooner than a backed-off retry of a throttled one.
The stream's parsed events are read directly: text deltas as they come, `toolUse` blocks once
whole, `stopReason` from `messageStop` and usage from `metadata`. The HTTP response is closed in
`finally`, so a caller who hangs up stops the Bedrock stream too.

What a request needs for the model it goes to is added here (`prepare`): cachePoints where the
model family caches, its output limit, latency-optimized inference, the guardrail.

Why one module of ~300 lines: the client, the request's preparation per model and the failover
share one view of what Bedrock accepts; split, each would need the others' rules.
"""
import asyncio
import json
import logging
import weakref
from contextlib import AsyncExitStack
from typing import AsyncIterator, Callable

import orjson
from botocore.eventstream import EventStreamBuffer, EventStreamHeaderParser
from botocore.exceptions import ClientError, EventStreamError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache

from agent import bedrock_body, metrics, starts
from agent.converse import ModelEvent, Stop, Text, ToolUse, Usage, cache_points
from agent.models import family_of, output_limit

logger = logging.getLogger("fintalk.bedrock")


class _LoopClient:
    def __init__(self):
        self.lock = asyncio.Lock()
        self.stack: AsyncExitStack | None = None
        self.clients: dict[bool, object] = {}  # single_attempt -> client


_per_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient]" = weakref.WeakKeyDictionary()


def _botocore_config(single_attempt: bool = False, user_agent: str | None = None):
    from botocore.config import Config

    return Config(
        # The session's User-Agent (aiobotocore, Python, platform, botocore versions), fixed: botocore's
        # default header is rebuilt twice a request from a dozen sanitized parts (for AWS's per-request
        # feature telemetry), ~0.1 ms of the ~1.3 ms before a turn's request leaves (BENCHMARKS.md, #32).
        user_agent=user_agent,
        connect_timeout=settings.BEDROCK_CONNECT_TIMEOUT,
        read_timeout=settings.BEDROCK_READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": 1 if single_attempt else settings.BEDROCK_MAX_ATTEMPTS},
        max_pool_connections=settings.BEDROCK_MAX_POOL_CONNECTIONS,
        # Our requests are built by agent/converse.py, and Bedrock validates every request itself (a
        # ValidationException, mapped like any 400). botocore's client-side check walked each tool's
        # JSON schema on every model call: ~0.3 ms a turn with the phone line's 14 tools (BENCHMARKS.md).
        parameter_validation=False,
    )


def _user_agent(session) -> str:
    """The session's User-Agent and ours; botocore appends the session's extra itself (as it does to any)."""
    extra = session.user_agent_extra or ""
    return session.user_agent().removesuffix(f" {extra}") + " fintalk"


async def client(single_attempt: bool = False):
    """This event loop's bedrock-runtime client, built on first use (`single_attempt`: without retries)."""
    slot = _per_loop.get(asyncio.get_running_loop())
    if slot is None:
        slot = _per_loop.setdefault(asyncio.get_running_loop(), _LoopClient())
    found = slot.clients.get(single_attempt)
    if found is None:
        async with slot.lock:
            found = slot.clients.get(single_attempt)
            if found is None:
                from aiobotocore.session import get_session

                if slot.stack is None:
                    slot.stack = AsyncExitStack()
                # No endpoint_url: botocore itself honours AWS_ENDPOINT_URL_BEDROCK_RUNTIME.
                session = get_session()
                found = await slot.stack.enter_async_context(session.create_client(
                    "bedrock-runtime", region_name=settings.AWS_REGION,
                    config=_botocore_config(single_attempt, _user_agent(session))))
                # Built and signed, about to leave: the next turn at the worker's door may start.
                found.meta.events.register("before-send.bedrock-runtime.ConverseStream", _sending)
                bedrock_body.install(found)  # the request's JSON by orjson (agent/bedrock_body.py)
                slot.clients[single_attempt] = found
    return found


def _sending(**_) -> None:
    starts.started()


async def warm_up() -> None:
    """Build the clients turns will use (the single-attempt one only when fallbacks are configured)."""
    await client()
    if settings.BEDROCK_FALLBACK_MODEL_IDS:
        await client(single_attempt=True)


async def close() -> None:
    """Close this loop's clients (ASGI lifespan shutdown)."""
    slot = _per_loop.pop(asyncio.get_running_loop(), None)
    if slot and slot.stack is not None:
        await slot.stack.aclose()


def prepare(request: dict) -> dict:
    """The ConverseStream arguments for the model the request names: cachePoints where its family
    caches, its output limit, latency-optimized inference and the guardrail, as configured."""
    model_id = request["modelId"]
    family = family_of(model_id)
    if family.caches_prompt and settings.BEDROCK_PROMPT_CACHING == "auto":
        request = cache_points(request, tools=family.caches_tools, min_tokens=family.cache_min_tokens)
    else:
        request = dict(request)
    limit = output_limit(model_id, family)
    if request["inferenceConfig"]["maxTokens"] > limit:  # a fallback may write less than the model asked for
        request["inferenceConfig"] = {**request["inferenceConfig"], "maxTokens": limit}
    if model_id in settings.BEDROCK_LATENCY_OPTIMIZED_MODEL_IDS:
        request["performanceConfig"] = {"latency": "optimized"}
    if settings.BEDROCK_GUARDRAIL_ID:
        request["guardrailConfig"] = {
            "guardrailIdentifier": settings.BEDROCK_GUARDRAIL_ID,
            "guardrailVersion": settings.BEDROCK_GUARDRAIL_VERSION,
            "streamProcessingMode": settings.BEDROCK_GUARDRAIL_STREAM_MODE,
            "trace": settings.BEDROCK_GUARDRAIL_TRACE,
        }
    return request


async def stream(request: dict, single_attempt: bool = False) -> AsyncIterator[ModelEvent]:
    """One ConverseStream call as Text / ToolUse / Stop / Usage events."""
    request = prepare(request)
    response = await (await client(single_attempt)).converse_stream(**request)
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
                yield _usage(event["metadata"], request)
    finally:
        events.close()


def _usage(metadata: dict, request: dict) -> Usage:
    usage = metadata.get("usage") or {}
    if "performanceConfig" in request:
        served = (metadata.get("performanceConfig") or {}).get("latency") or "not reported"
        logger.info("latency-optimized inference %s", "honoured" if served == "optimized" else "not honoured",
                    extra={"model": request["modelId"], "requested_latency": "optimized", "served_latency": served})
    trace = (metadata.get("trace") or {}).get("guardrail")
    return Usage(int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0)),
                 int(usage.get("cacheReadInputTokens", 0)), int(usage.get("cacheWriteInputTokens", 0)),
                 _guardrail_summary(trace) if trace else None)


def _guardrail_summary(trace: dict) -> str:
    """What a guardrail's trace says, without the assessed text: its reason, or which side and policies."""
    if trace.get("actionReason"):
        return str(trace["actionReason"])[:200]
    sides = []
    if trace.get("inputAssessment"):
        sides.append("input")
    if trace.get("outputAssessments"):
        sides.append("output")
    return "intervened on " + (" and ".join(sides) or "the content")


class _HeaderParser(EventStreamHeaderParser):
    """botocore's header parser, remembering what it parsed: a stream's frames repeat the same few
    header blocks (`:event-type` contentBlockDelta, `:content-type`, `:message-type`) byte for byte,
    and parsing them was a tenth of a turn's CPU (BENCHMARKS.md, #32). The dicts are only read."""

    _seen: dict[bytes, dict] = {}

    def parse(self, data: bytes) -> dict:
        found = self._seen.get(data)
        if found is None:
            found = super().parse(data)
            if len(self._seen) < 256:  # the operation's event and exception types: a few dozen at most
                self._seen[data] = found
        return found


async def _parsed(events) -> AsyncIterator[dict]:
    """The stream's events as `{event type: payload}` dicts, as botocore's parser gives them.

    botocore's EventStreamBuffer decodes each frame (prelude, CRCs, framing; headers through
    `_HeaderParser`) and then its generic shape parser would run over the JSON payload to build
    that same dict: ~0.05 ms an event, about a tenth of a turn's CPU, measured (bench/turn_cpu.py).
    ConverseStream's payloads are the event objects as they are, so they are read with orjson;
    exceptions are raised as botocore raises them (`EventStreamError`, the exception type as the
    error code). One generator reads the body and the frames (each layer costs every token).
    """
    content = getattr(getattr(events, "_raw_stream", None), "content", None)
    if content is None:  # another aiobotocore: its parsed events, the same dicts
        async for event in events:
            yield event
        return
    buffer = EventStreamBuffer()
    buffer._header_parser = _HeaderParser()
    async for chunk, _ in content.iter_chunks():
        buffer.add_data(chunk)
        for frame in buffer:
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


# --- Failover before the first word -----------------------------------------------------------------

_THROTTLED = {"throttlingexception", "toomanyrequestsexception", "servicequotaexceededexception"}
_UNAVAILABLE = {"serviceunavailableexception", "internalserverexception", "modelnotreadyexception",
                "modeltimeoutexception", "modelstreamerrorexception", "modelerrorexception"}


def failover_reason(exc: BaseException) -> str | None:
    """Why a failure lets another model answer (throttled, unavailable, timeout, unreachable), or None
    for one another model would meet too (a bad request, denied access, a missing model)."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", "")).lower()
        if code in _THROTTLED:
            return "throttled"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return "unavailable" if code in _UNAVAILABLE or status >= 500 else None
    if isinstance(exc, (BotocoreConnectionError, HTTPClientError)):
        return "unreachable"
    return None


def _cooling_key(model_id: str) -> str:
    return "fintalk:bedrock:cooling:" + model_id


async def _cooling(models: list[str]) -> set[str]:
    """Which of `models` failed lately (one cache read: every worker's failures, with Redis). A cache
    that cannot answer cools nothing: the failover itself still works, turn by turn."""
    cache, keys = caches["default"], [_cooling_key(model_id) for model_id in models]
    try:
        found = cache.get_many(keys) if isinstance(cache, LocMemCache) else await cache.aget_many(keys)
    except Exception as exc:
        logger.warning("cooldowns unreadable; trying every model", extra={"error": type(exc).__name__})
        return set()
    return {model_id for model_id in models if _cooling_key(model_id) in found}


async def _cool(model_id: str) -> None:
    seconds = settings.BEDROCK_FAILOVER_COOLDOWN_SECONDS
    if seconds <= 0:
        return
    cache = caches["default"]
    try:
        if isinstance(cache, LocMemCache):
            cache.set(_cooling_key(model_id), True, seconds)
        else:
            await cache.aset(_cooling_key(model_id), True, seconds)
    except Exception as exc:
        logger.warning("cooldown not stored", extra={"model": model_id, "error": type(exc).__name__})


async def failover_stream(request: dict, answered: Callable[[str], None],
                          request_id: str = "") -> AsyncIterator[ModelEvent]:
    """A turn's first model call: the model it names, then each of BEDROCK_FALLBACK_MODEL_IDS, while
    nothing has come back. A target that is throttled, failing, or silent for BEDROCK_FAILOVER_TIMEOUT
    cools down for BEDROCK_FAILOVER_COOLDOWN_SECONDS (the next turns skip it); the last one left gets
    botocore's retries and all the time there is. `answered(model_id)` names the model whose first
    event is about to be yielded; from then on its stream is passed through as it comes."""
    primary = request["modelId"]
    chain = [primary, *(model_id for model_id in settings.BEDROCK_FALLBACK_MODEL_IDS if model_id != primary)]
    cooling = await _cooling(chain)
    targets = [model_id for model_id in chain if model_id not in cooling] or chain  # all cooling: try anyway
    for model_id in chain[:chain.index(targets[0])]:
        metrics.FAILOVERS.labels(model=model_id, reason="cooling").inc()
    for index, model_id in enumerate(targets):
        last = index == len(targets) - 1
        events = stream(request if model_id == primary else {**request, "modelId": model_id}, single_attempt=not last)
        try:
            if last:
                first = await anext(events)
            else:
                async with asyncio.timeout(settings.BEDROCK_FAILOVER_TIMEOUT):
                    first = await anext(events)
        except StopAsyncIteration:
            answered(model_id)
            return
        except Exception as exc:
            await events.aclose()
            reason = None if last else failover_reason(exc)
            if reason is None:
                raise
            await _cool(model_id)
            metrics.FAILOVERS.labels(model=model_id, reason=reason).inc()
            logger.warning("model failed before its first word; trying the next", extra={
                "model": model_id, "next_model": targets[index + 1], "reason": reason,
                "error": type(exc).__name__, "request_id": request_id})
            continue
        answered(model_id)
        try:
            yield first
            async for event in events:
                yield event
        finally:
            await events.aclose()
        return
