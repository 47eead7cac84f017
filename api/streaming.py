"""From agent turn events to OpenAI responses: the SSE chunk stream and the complete object.

`start_turn` pulls the turn's first event before any byte is sent, so an upstream failure before
the first token is still a real HTTP error (429, 503, ...). After that, a failure becomes one
`data: {"error": ...}` event; every path that is not a hang-up ends with `data: [DONE]`, and the
turn is always closed in `finally` (which cancels the agent run and the Bedrock stream).
"""
import logging
from typing import AsyncIterator

from agent.turn import TextDelta, TurnEnd, TurnEvent
from api import protocol
from fintalk.exceptions import FintalkError

logger = logging.getLogger("fintalk.api")


class StartedTurn:
    """A turn whose first event has arrived; iterate it to get that event and the rest."""

    def __init__(self, events: AsyncIterator[TurnEvent], first: TurnEvent | None):
        self._events = events
        self._first = first

    async def __aiter__(self):
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        async for event in self._events:
            yield event

    async def aclose(self) -> None:
        await self._events.aclose()


async def start_turn(events: AsyncIterator[TurnEvent]) -> StartedTurn:
    try:
        first = await anext(events)
    except StopAsyncIteration:
        first = None
    except BaseException:
        await events.aclose()
        raise
    return StartedTurn(events, first)


async def chat_completion_stream(turn: StartedTurn, chunks: protocol.ChunkFactory, include_usage: bool):
    try:
        yield protocol.sse_event(chunks.role())
        async for event in turn:
            if isinstance(event, TextDelta):
                yield protocol.sse_event(chunks.content(event.text))
            elif isinstance(event, TurnEnd):
                yield protocol.sse_event(chunks.finish(protocol.finish_reason(event.stop_reason)))
                if include_usage:
                    usage = protocol.Usage(event.input_tokens, event.output_tokens)
                    yield protocol.sse_event(chunks.usage(usage))
    except FintalkError as error:
        yield protocol.sse_event(protocol.error_body(error.message, error.error_type, error.param, error.code))
    except Exception:
        logger.exception("stream failed after it started")
        error = FintalkError()
        yield protocol.sse_event(protocol.error_body(error.message, error.error_type, None, error.code))
    finally:
        await turn.aclose()
    yield protocol.DONE_EVENT


async def collect(turn: StartedTurn) -> tuple[str, TurnEnd]:
    """Run a turn to its end: the whole reply text and the final event."""
    parts, end = [], None
    try:
        async for event in turn:
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, TurnEnd):
                end = event
    finally:
        await turn.aclose()
    return "".join(parts), end or TurnEnd(None, 0, 0, ())
