"""Runs one agent turn and yields what the caller should hear: text deltas, tool use, the end.

The API layer turns these events into OpenAI chunks; nothing here knows the wire format. Text
passes through the speech filter (no `<thinking>`, no markdown), a turn never ends silent, and
an optional filler phrase covers the silence while a tool runs. The run starts inside the
consuming coroutine (a workflow run belongs to the loop that made it) and is cancelled in
`finally`, so a caller who hangs up stops the agent and the Bedrock stream.
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
from agent.speech import SpeechFilter
from agent.upstream import translate

logger = logging.getLogger("fintalk.agent")


@dataclass(frozen=True)
class TurnInput:
    query: str
    history: tuple[ChatMessage, ...] = ()
    phone: str | None = None
    request_id: str = ""
    inference: InferenceSettings = field(default_factory=InferenceSettings)
    tool_filler: str | None = None  # spoken once when the agent decides to call a tool


# Said when a turn would otherwise end in silence (e.g. the model wrote only <thinking>).
EMPTY_REPLY = "Sorry, I didn't catch that. Could you say it again?"


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


class _Speaker:
    """Turns raw model deltas into what is spoken, and remembers whether anything was."""

    def __init__(self):
        self.filter = SpeechFilter()
        self.spoken = []
        self.separate = False  # a new model call began: keep its words apart from the last ones

    def say(self, text: str) -> TextDelta | None:
        if not self.spoken:
            text = text.lstrip()
        elif self.separate and text.strip() and not self.spoken[-1][-1:].isspace() and not text[:1].isspace():
            text = " " + text
        if not text:
            return None
        if text.strip():
            self.separate = False
        self.spoken.append(text)
        return TextDelta(text)


async def run_turn(turn: TurnInput) -> AsyncIterator[TurnEvent]:
    agent = await get_agent()
    context = TurnContext(phone=turn.phone, request_id=turn.request_id, inference=turn.inference)
    # The workflow's tasks are created inside this copy, so its steps and tools see the turn.
    run_context = contextvars.copy_context()
    run_context.run(current_turn.set, context)
    handler = run_context.run(agent.run, user_msg=turn.query, chat_history=list(turn.history))
    speaker = _Speaker()
    filler = turn.tool_filler
    try:
        async for event in handler.stream_events():
            if isinstance(event, AgentStream) and event.delta:
                if delta := speaker.say(speaker.filter.feed(event.delta)):
                    yield delta
            elif isinstance(event, ToolCall):
                yield ToolUse(event.tool_name)
                if filler and (delta := speaker.say(filler)):
                    filler = None
                    yield delta
                speaker.separate = True
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
    if delta := speaker.say(speaker.filter.flush()):
        yield delta
    if not "".join(speaker.spoken).strip():
        yield speaker.say(EMPTY_REPLY)
    yield _end(context.meter, turn, "".join(speaker.spoken))
