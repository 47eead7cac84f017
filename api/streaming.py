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

from agent.turn import TextDelta, TurnEnd, TurnEvent
from api import protocol
from fintalk.exceptions import FintalkError, UpstreamTimeout

logger = logging.getLogger("fintalk.api")

VOICE_APOLOGY = "I'm sorry, something went wrong on my side. Could you say that again?"
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
        async for event in turn:
            if isinstance(event, TextDelta):
                record.first_token()
                yield protocol.sse_event(chunks.content(event.text))
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


async def collect(turn: StartedTurn) -> tuple[str, TurnEnd]:
    """Run a turn to its end: the whole reply text and the final event."""
    parts, end = [], None
    try:
        async for event in turn:
            if isinstance(event, TextDelta):
                turn.record.first_token()
                parts.append(event.text)
            elif isinstance(event, TurnEnd):
                turn.record.turn_ended(event)
                end = event
    except BaseException as error:
        turn.record.failed(error)
        raise
    finally:
        await turn.aclose()
    return "".join(parts), end or TurnEnd(None, 0, 0, ())
