"""Runs one agent turn and yields what the caller should get: text deltas, tool use, the end.

The API layer turns these events into OpenAI chunks; nothing here knows the wire format. The
run starts inside the consuming coroutine (a workflow run belongs to the loop that made it) and
is cancelled in `finally`, so a caller who hangs up stops the agent and the Bedrock stream.
"""
import asyncio
import contextvars
import logging
from dataclasses import dataclass, field
from typing import AsyncIterator

from llama_index.core.agent.workflow import AgentStream, ToolCall
from llama_index.core.llms import ChatMessage

from agent.agent import get_agent
from agent.context import InferenceSettings, TurnContext, TurnMeter, current_turn
from agent.upstream import translate

logger = logging.getLogger("fintalk.agent")


@dataclass(frozen=True)
class TurnInput:
    query: str
    history: tuple[ChatMessage, ...] = ()
    phone: str | None = None
    request_id: str = ""
    inference: InferenceSettings = field(default_factory=InferenceSettings)


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolUse:
    name: str


@dataclass(frozen=True)
class TurnEnd:
    stop_reason: str | None
    input_tokens: int
    output_tokens: int
    tool_calls: tuple[tuple[str, str], ...]


TurnEvent = TextDelta | ToolUse | TurnEnd


def _estimate_tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4) if text else 0


def _end(meter: TurnMeter, turn: TurnInput, reply: str) -> TurnEnd:
    if meter.reported:
        tokens_in, tokens_out = meter.input_tokens, meter.output_tokens
    else:  # the provider gave no counts: 1 token per 4 characters
        prompt = turn.query + "".join(message.content or "" for message in turn.history)
        tokens_in, tokens_out = _estimate_tokens(prompt), _estimate_tokens(reply)
    return TurnEnd(meter.stop_reason, tokens_in, tokens_out, tuple(meter.tool_calls))


async def run_turn(turn: TurnInput) -> AsyncIterator[TurnEvent]:
    agent = await get_agent()
    context = TurnContext(phone=turn.phone, request_id=turn.request_id, inference=turn.inference)
    # The workflow's tasks are created inside this copy, so its steps and tools see the turn.
    run_context = contextvars.copy_context()
    run_context.run(current_turn.set, context)
    handler = run_context.run(agent.run, user_msg=turn.query, chat_history=list(turn.history))
    reply = []
    try:
        async for event in handler.stream_events():
            if isinstance(event, AgentStream) and event.delta:
                reply.append(event.delta)
                yield TextDelta(event.delta)
            elif isinstance(event, ToolCall):
                yield ToolUse(event.tool_name)
        await handler
    except (asyncio.CancelledError, GeneratorExit):
        raise
    except Exception as exc:
        error = translate(exc)
        logger.warning("agent turn failed", extra={"error": type(exc).__name__, "status": error.status_code},
                       exc_info=error.status_code >= 500 and type(error).__name__ == "FintalkError")
        raise error from exc
    finally:
        if not handler.is_done():
            await handler.cancel_run()
    yield _end(context.meter, turn, "".join(reply))
