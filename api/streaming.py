"""From agent turn events to OpenAI responses: the SSE chunk stream and the complete object.

The view waits a short while for the turn's first event before answering, so an upstream
failure that comes fast is still a real HTTP error (429, 503, ...). If the model is slower, the
stream starts and sends `: ping` comments until the first token (proxies keep the connection;
openai clients ignore them), up to a deadline. After the stream started, a failure becomes one
`data: {"error": ...}` event — or, on a voice call, a short spoken apology and a normal finish.
Every path but a hang-up ends with `data: [DONE]`; the turn is always closed in `finally`,
which stops the agent loop and closes the Bedrock stream.
"""
import asyncio
import logging
from dataclasses import dataclass, field
from typing import AsyncIterator

from django.conf import settings

from agent import starts
from agent.client_tools import ClientToolCall
from agent.turn import ModelAnswering, StructuredAnswer, TextDelta, ToolStarted, TurnEnd, TurnEvent
from api import protocol
from api.errors import fintalk_error_body
from core.exceptions import FintalkError, StructuredOutputFailed, UpstreamTimeout

logger = logging.getLogger("fintalk.api")

VOICE_APOLOGY = "I'm sorry, something went wrong on my side. Could you say that again?"


def structured_text(answer: StructuredAnswer) -> str:
    if answer.error:
        raise StructuredOutputFailed(f"The model did not produce JSON matching the requested schema: {answer.error}")
    return answer.json


def usage_of(end: TurnEnd) -> protocol.Usage:
    """A turn's usage in OpenAI's terms: the cache's reads and writes are prompt tokens too."""
    return protocol.Usage.of_turn(end.input_tokens, end.output_tokens, getattr(end, "cache_read_tokens", 0),
                                  getattr(end, "cache_write_tokens", 0))


def turn_ended(record, end: TurnEnd) -> None:
    """The request record takes the turn's end; its log line names the model that answered (after
    any failover) and what Bedrock's cache, guardrail and prices made of the turn."""
    record.turn_ended(end)
    record.model = getattr(end, "model_id", None) or record.model
    cost = getattr(end, "cost_usd", None)
    record.bedrock = {"cache_read_tokens": getattr(end, "cache_read_tokens", 0),
                      "cache_write_tokens": getattr(end, "cache_write_tokens", 0),
                      "cost_usd": None if cost is None else float(cost), "guardrail": getattr(end, "guardrail", False)}


def _failure(exc: Exception, record, stream: str) -> FintalkError:
    """A failure after a stream began, as the FintalkError to send; an unexpected one is logged."""
    if isinstance(exc, FintalkError):
        error = exc
    else:
        logger.exception("%s stream failed after it started", stream)
        error = FintalkError()
    record.failed(error)
    return error


class RunningTurn:
    """A running turn whose events can be awaited with a timeout (for keep-alives) or directly."""

    def __init__(self, events: AsyncIterator[TurnEvent], record, deadline: float):
        self._events = events
        self._pending: asyncio.Task | None = None
        self.record = record
        self.deadline = deadline  # seconds after the request arrived, for the first spoken token

    async def next_event(self, timeout: float | None = None):
        """The next event; None if `timeout` passed first; raises StopAsyncIteration at the end."""
        if timeout is None and self._pending is None:
            return await anext(self._events)
        if self._pending is None:
            self._pending = asyncio.ensure_future(anext(self._events))
        done, _ = await asyncio.wait({self._pending}, timeout=timeout)
        if not done:
            return None
        task, self._pending = self._pending, None
        return task.result()

    async def until_spoken(self, interval: float):
        """Events until the first one the caller gets (text, a tool call, an answer); None for each
        `interval` without one; UpstreamTimeout once the first-token deadline passes."""
        while True:
            remaining = self.deadline - self.record.elapsed()
            if remaining <= 0:
                raise UpstreamTimeout()
            try:
                event = await self.next_event(min(interval, remaining))
            except StopAsyncIteration:
                return
            yield event
            if isinstance(event, (TextDelta, ClientToolCall, StructuredAnswer, TurnEnd)):
                return

    async def __aiter__(self):
        """Every event (the first spoken one within the deadline), without keep-alive gaps."""
        async for event in _with_keepalives(self, self.deadline):
            if event is not None:
                yield event

    async def aclose(self) -> None:
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
            await asyncio.gather(self._pending, return_exceptions=True)
        await self._events.aclose()


async def start_turn(events: AsyncIterator[TurnEvent], record) -> RunningTurn:
    """Start the turn and wait briefly for its first event, so that early failures are HTTP errors."""
    running = RunningTurn(events, record, settings.FINTALK_FIRST_TOKEN_TIMEOUT)
    try:
        running._pending = asyncio.ensure_future(anext(events))
        await asyncio.wait({running._pending}, timeout=settings.FINTALK_KEEPALIVE_SECONDS)
        if running._pending.done() and not isinstance(running._pending.exception(), StopAsyncIteration):
            running._pending.result()  # raises the turn's error, if any, while a status can still be sent
    except BaseException as error:
        record.failed(error)
        await running.aclose()
        raise
    finally:
        starts.started()  # if no Bedrock request did already (the demo model, an early error)
    return running


async def _with_keepalives(running: RunningTurn, interval: float | None = None):
    """The turn's events, with None standing for a keep-alive while nothing has been spoken yet."""
    async for event in running.until_spoken(interval or settings.FINTALK_KEEPALIVE_SECONDS):
        yield event
    while True:
        if starts.queued():  # turns wait to start: their first words before this turn's next one
            await starts.give_way()
        try:
            yield await running.next_event()
        except StopAsyncIteration:
            return


async def chat_completion_stream(running: RunningTurn, chunks: protocol.ChunkFactory, *, include_usage: bool,
                                 voice: bool):
    record = running.record
    role_sent = False  # the role chunk goes with the first data, so that it names the model that answers
    ending = b""  # the finish (and usage) chunks go out with [DONE]: one write, not three
    try:
        tool_index = 0
        async for event in _with_keepalives(running):
            if event is None:
                yield protocol.KEEPALIVE_EVENT
                continue
            if isinstance(event, ModelAnswering):  # a failover: every chunk names the model that answers
                chunks.model = event.model_id
                continue
            if not role_sent and not isinstance(event, ToolStarted):
                role_sent = True
                role = protocol.sse_event(chunks.role())
                if isinstance(event, TextDelta):  # the role and the first words in one write
                    record.said(event.text)
                    yield role + protocol.sse_event(chunks.content(event.text))
                    continue
                yield role
            if isinstance(event, TextDelta):
                record.said(event.text)
                yield protocol.sse_event(chunks.content(event.text))
            elif isinstance(event, ToolStarted):
                yield protocol.tool_comment(event.name)
            elif isinstance(event, ClientToolCall):
                record.first_token()
                for chunk in chunks.tool_call(tool_index, event.id, event.name, event.arguments):
                    yield protocol.sse_event(chunk)
                tool_index += 1
            elif isinstance(event, StructuredAnswer):
                text = structured_text(event)
                record.said(text)
                yield protocol.sse_event(chunks.content(text))
            elif isinstance(event, TurnEnd):
                turn_ended(record, event)
                chunks.model = event.model_id or chunks.model  # the model that answered, after any failover
                ending = protocol.sse_event(chunks.finish(protocol.finish_reason(event.stop_reason)))
                if include_usage:
                    ending += protocol.sse_event(chunks.usage(usage_of(event)))
    except Exception as exc:
        ending = b""
        if not role_sent:
            yield protocol.sse_event(chunks.role())
        error = _failure(exc, record, "chat completion")
        if voice:  # Vapi speaks every delta and cannot speak an error event
            record.spoken.append(VOICE_APOLOGY)  # on the call record; not a first token
            yield protocol.sse_event(chunks.content(VOICE_APOLOGY))
            yield protocol.sse_event(chunks.finish("stop"))
        else:
            yield protocol.sse_event(fintalk_error_body(error))
    finally:
        await running.aclose()
    yield ending + protocol.DONE_EVENT


@dataclass
class TurnResult:
    text: str = ""
    end: TurnEnd = field(default_factory=lambda: TurnEnd(None, 0, 0, ()))

    @property
    def tool_calls(self) -> list[dict]:
        return [protocol.tool_call_object(c.id, c.name, c.arguments) for c in self.end.client_tool_calls]


async def collect(running: RunningTurn) -> TurnResult:
    """Run a turn to its end: the whole reply (or structured answer) and the final event."""
    parts, result = [], TurnResult()
    try:
        async for event in running:
            if isinstance(event, TextDelta):
                running.record.said(event.text)
                parts.append(event.text)
            elif isinstance(event, StructuredAnswer):
                parts.append(structured_text(event))
                running.record.said(parts[-1])
            elif isinstance(event, TurnEnd):
                turn_ended(running.record, event)
                result.end = event
    except BaseException as error:
        running.record.failed(error)
        raise
    finally:
        await running.aclose()
    result.text = "".join(parts)
    return result


async def responses_stream(running: RunningTurn, responses: protocol.ResponseFactory):
    """The Responses API event sequence for one assistant message, as the openai SDK parses it."""
    record = running.record
    yield responses.event("response.created", response=responses.response("in_progress", []))
    yield responses.event("response.in_progress", response=responses.response("in_progress", []))
    parts = []
    try:
        yield responses.event("response.output_item.added", output_index=0,
                              item=responses.message("", status="in_progress"))
        yield responses.event("response.content_part.added", **responses.text_location(),
                              part=responses.text_part(""))
        end = None
        async for event in _with_keepalives(running):
            if event is None:
                yield protocol.KEEPALIVE_EVENT
            elif isinstance(event, TextDelta):
                record.said(event.text)
                parts.append(event.text)
                yield responses.event("response.output_text.delta", **responses.text_location(), delta=event.text,
                                      logprobs=[])
            elif isinstance(event, TurnEnd):
                turn_ended(record, event)
                responses.model = event.model_id or responses.model
                end = event
        text = "".join(parts)
        yield responses.event("response.output_text.done", **responses.text_location(), text=text, logprobs=[])
        yield responses.event("response.content_part.done", **responses.text_location(),
                              part=responses.text_part(text))
        yield responses.event("response.output_item.done", output_index=0, item=responses.message(text))
        usage = usage_of(end) if end else protocol.Usage(0, 0)
        yield responses.event("response.completed", response=responses.response(
            "completed", [responses.message(text)], usage))
    except Exception as exc:
        error = _failure(exc, record, "responses")
        yield responses.event("response.failed", response=responses.response(
            "failed", [], error={"code": error.code or error.error_type, "message": error.message}))
    finally:
        await running.aclose()


async def completions_stream(turns, record, completion_id: str, created: int, model: str, include_usage: bool):
    """Legacy `text_completion` chunks: one prompt after another, each choice with its index."""
    prompt_tokens = completion_tokens = 0
    try:
        for index, start in enumerate(turns):
            running = await start()
            try:
                async for event in running:
                    if isinstance(event, TextDelta):
                        record.said(event.text)
                        choice = protocol.text_choice(index, event.text, None)
                    elif isinstance(event, TurnEnd):
                        turn_ended(record, event)
                        prompt_tokens += usage_of(event).prompt_tokens
                        completion_tokens += event.output_tokens
                        choice = protocol.text_choice(index, "", protocol.finish_reason(event.stop_reason))
                    else:
                        continue
                    yield protocol.sse_event(protocol.text_completion(
                        completion_id=completion_id, created=created, model=model, choices=[choice]))
            finally:
                await running.aclose()
        if include_usage:
            yield protocol.sse_event(protocol.text_completion(
                completion_id=completion_id, created=created, model=model, choices=[],
                usage=protocol.Usage(prompt_tokens, completion_tokens)))
    except Exception as exc:
        error = _failure(exc, record, "completions")
        yield protocol.sse_event(fintalk_error_body(error))
    yield protocol.DONE_EVENT
