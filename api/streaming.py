"""From agent turn events to OpenAI responses: the SSE chunk stream and the complete object.

The view waits a short while for the turn's first event before answering, so an upstream
failure that comes fast is still a real HTTP error (429, 503, ...). If the model is slower, the
stream starts and sends `: ping` comments until the first token (proxies keep the connection;
openai clients ignore them), up to a deadline. After the stream started, a failure becomes one
`data: {"error": ...}` event — or, on a voice call, a short spoken apology and a normal finish.
Every path but a hang-up ends with `data: [DONE]`; the turn is always closed in `finally`,
which cancels the agent run and the Bedrock stream.
"""
import asyncio
import logging
from typing import AsyncIterator

from django.conf import settings

from dataclasses import dataclass, field

from agent.client_tools import ClientToolCall
from agent.turn import StructuredAnswer, TextDelta, TurnEnd, TurnEvent
from api import protocol
from fintalk.exceptions import FintalkError, UpstreamError, UpstreamTimeout

logger = logging.getLogger("fintalk.api")

VOICE_APOLOGY = "I'm sorry, something went wrong on my side. Could you say that again?"


class StructuredOutputFailed(UpstreamError):
    default_message = "The model did not produce JSON matching the requested schema."
    code = "structured_output_failed"


def structured_text(answer: StructuredAnswer) -> str:
    if answer.error:
        raise StructuredOutputFailed(f"The model did not produce JSON matching the requested schema: {answer.error}")
    return answer.json
_NOT_YET = object()


class StartedTurn:
    """A running turn; its first event may still be on its way."""

    def __init__(self, events: AsyncIterator[TurnEvent], record, deadline: float):
        self._events = events
        self._first = _NOT_YET
        self._first_task = None
        self.record = record
        self.deadline = deadline  # seconds after the request arrived

    async def _pull_first(self):
        try:
            return await anext(self._events)
        except StopAsyncIteration:
            return None

    async def wait_first(self, timeout: float) -> bool:
        """True once the first event is here; raises the turn's error; False after `timeout`."""
        if self._first is not _NOT_YET:
            return True
        remaining = self.deadline - self.record.elapsed()
        if remaining <= 0:
            raise UpstreamTimeout()
        if self._first_task is None:
            self._first_task = asyncio.ensure_future(self._pull_first())
        done, _ = await asyncio.wait({self._first_task}, timeout=min(timeout, remaining))
        if not done:
            return False
        self._first = self._first_task.result()
        return True

    async def __aiter__(self):
        while not await self.wait_first(self.deadline):
            pass
        if self._first is not None:
            yield self._first
        async for event in self._events:
            yield event

    async def aclose(self) -> None:
        if self._first_task is not None and not self._first_task.done():
            self._first_task.cancel()
            await asyncio.gather(self._first_task, return_exceptions=True)
        await self._events.aclose()


async def start_turn(events: AsyncIterator[TurnEvent], record) -> StartedTurn:
    turn = StartedTurn(events, record, settings.FINTALK_FIRST_TOKEN_TIMEOUT)
    try:
        await turn.wait_first(settings.FINTALK_KEEPALIVE_SECONDS)
    except BaseException as error:
        record.failed(error)
        await turn.aclose()
        raise
    return turn


async def chat_completion_stream(turn: StartedTurn, chunks: protocol.ChunkFactory, *, include_usage: bool,
                                 voice: bool):
    record = turn.record
    try:
        yield protocol.sse_event(chunks.role())
        while not await turn.wait_first(settings.FINTALK_KEEPALIVE_SECONDS):
            yield protocol.KEEPALIVE_EVENT
        tool_index = 0
        async for event in turn:
            if isinstance(event, TextDelta):
                record.first_token()
                yield protocol.sse_event(chunks.content(event.text))
            elif isinstance(event, ClientToolCall):
                record.first_token()
                for chunk in chunks.tool_call(tool_index, event.id, event.name, event.arguments):
                    yield protocol.sse_event(chunk)
                tool_index += 1
            elif isinstance(event, StructuredAnswer):
                record.first_token()
                yield protocol.sse_event(chunks.content(structured_text(event)))
            elif isinstance(event, TurnEnd):
                record.turn_ended(event)
                yield protocol.sse_event(chunks.finish(protocol.finish_reason(event.stop_reason)))
                if include_usage:
                    usage = protocol.Usage(event.input_tokens, event.output_tokens)
                    yield protocol.sse_event(chunks.usage(usage))
    except Exception as exc:
        error = exc if isinstance(exc, FintalkError) else FintalkError()
        if not isinstance(exc, FintalkError):
            logger.exception("stream failed after it started")
        record.failed(error)
        if voice:  # Vapi speaks every delta and cannot speak an error event
            yield protocol.sse_event(chunks.content(VOICE_APOLOGY))
            yield protocol.sse_event(chunks.finish("stop"))
        else:
            yield protocol.sse_event(protocol.error_body(error.message, error.error_type, error.param, error.code))
    finally:
        await turn.aclose()
    yield protocol.DONE_EVENT


@dataclass
class TurnResult:
    text: str = ""
    end: TurnEnd = field(default_factory=lambda: TurnEnd(None, 0, 0, ()))

    @property
    def tool_calls(self) -> list[dict]:
        return [protocol.tool_call_object(c.id, c.name, c.arguments) for c in self.end.client_tool_calls]


async def collect(turn: StartedTurn) -> TurnResult:
    """Run a turn to its end: the whole reply (or structured answer) and the final event."""
    parts, result = [], TurnResult()
    try:
        async for event in turn:
            if isinstance(event, TextDelta):
                turn.record.first_token()
                parts.append(event.text)
            elif isinstance(event, StructuredAnswer):
                turn.record.first_token()
                parts.append(structured_text(event))
            elif isinstance(event, TurnEnd):
                turn.record.turn_ended(event)
                result.end = event
    except BaseException as error:
        turn.record.failed(error)
        raise
    finally:
        await turn.aclose()
    result.text = "".join(parts)
    return result


async def responses_stream(turn: StartedTurn, responses: protocol.ResponseFactory):
    """The Responses API event sequence for one assistant message, as the openai SDK parses it."""
    record = turn.record
    yield responses.event("response.created", response=responses.response("in_progress", []))
    yield responses.event("response.in_progress", response=responses.response("in_progress", []))
    parts = []
    try:
        while not await turn.wait_first(settings.FINTALK_KEEPALIVE_SECONDS):
            yield protocol.KEEPALIVE_EVENT
        yield responses.event("response.output_item.added", output_index=0,
                              item=responses.message("", status="in_progress"))
        yield responses.event("response.content_part.added", **responses.text_location(),
                              part=responses.text_part(""))
        end = None
        async for event in turn:
            if isinstance(event, TextDelta):
                record.first_token()
                parts.append(event.text)
                yield responses.event("response.output_text.delta", **responses.text_location(), delta=event.text,
                                      logprobs=[])
            elif isinstance(event, TurnEnd):
                record.turn_ended(event)
                end = event
        text = "".join(parts)
        yield responses.event("response.output_text.done", **responses.text_location(), text=text, logprobs=[])
        yield responses.event("response.content_part.done", **responses.text_location(),
                              part=responses.text_part(text))
        yield responses.event("response.output_item.done", output_index=0, item=responses.message(text))
        usage = protocol.Usage(end.input_tokens, end.output_tokens) if end else protocol.Usage(0, 0)
        yield responses.event("response.completed", response=responses.response(
            "completed", [responses.message(text)], usage))
    except Exception as exc:
        error = exc if isinstance(exc, FintalkError) else FintalkError()
        if not isinstance(exc, FintalkError):
            logger.exception("responses stream failed after it started")
        record.failed(error)
        yield responses.event("response.failed", response=responses.response(
            "failed", [], error={"code": error.code or error.error_type, "message": error.message}))
    finally:
        await turn.aclose()


async def completions_stream(turns, completion_id: str, created: int, model: str, include_usage: bool):
    """Legacy `text_completion` chunks: one prompt after another, each choice with its index."""
    prompt_tokens = completion_tokens = 0
    try:
        for index, start in enumerate(turns):
            turn = await start()
            try:
                async for event in turn:
                    if isinstance(event, TextDelta):
                        turn.record.first_token()
                        choice = protocol.text_choice(index, event.text, None)
                    elif isinstance(event, TurnEnd):
                        turn.record.turn_ended(event)
                        prompt_tokens += event.input_tokens
                        completion_tokens += event.output_tokens
                        choice = protocol.text_choice(index, "", protocol.finish_reason(event.stop_reason))
                    else:
                        continue
                    yield protocol.sse_event(protocol.text_completion(
                        completion_id=completion_id, created=created, model=model, choices=[choice]))
            finally:
                await turn.aclose()
        if include_usage:
            yield protocol.sse_event(protocol.text_completion(
                completion_id=completion_id, created=created, model=model, choices=[],
                usage=protocol.Usage(prompt_tokens, completion_tokens)))
    except Exception as exc:
        error = exc if isinstance(exc, FintalkError) else FintalkError()
        if not isinstance(exc, FintalkError):
            logger.exception("completions stream failed after it started")
        yield protocol.sse_event(protocol.error_body(error.message, error.error_type, error.param, error.code))
    yield protocol.DONE_EVENT
