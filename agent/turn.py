"""Runs one agent turn and yields what the caller should hear: text deltas, tool use, the end.

The API layer turns these events into OpenAI chunks; nothing here knows the wire format. Text
passes through the speech filter (no `<thinking>`, no markdown), a turn never ends silent, and
an optional filler phrase covers the silence while a tool runs. The run starts inside the
consuming coroutine (a workflow run belongs to the loop that made it) and is cancelled in
`finally`, so a caller who hangs up stops the agent and the Bedrock stream.
"""
import asyncio
import contextvars
import json
import logging
from dataclasses import dataclass, field
from typing import AsyncIterator

from llama_index.core.agent.workflow import AgentStream, ToolCall
from llama_index.core.llms import ChatMessage

from agent.agent import get_agent
from agent.client_tools import ClientTool, ClientToolCall, StructuredOutputTool
from agent.context import InferenceSettings, ToolPolicy, TurnContext, TurnMeter, current_turn
from agent.speech import SpeechFilter
from agent.upstream import translate

logger = logging.getLogger("fintalk.agent")


@dataclass(frozen=True)
class TurnInput:
    query: str | None  # None: the history ends with tool results and the model goes on from there
    history: tuple[ChatMessage, ...] = ()
    phone: str | None = None
    request_id: str = ""
    inference: InferenceSettings = field(default_factory=InferenceSettings)
    tool_filler: str | None = None  # spoken once when the agent decides to call a tool
    tools: ToolPolicy = field(default_factory=ToolPolicy)

    @property
    def structured(self) -> bool:
        return any(isinstance(tool, StructuredOutputTool) for tool in self.tools.extra_tools)


# Said when a turn would otherwise end in silence (e.g. the model wrote only <thinking>).
EMPTY_REPLY = "Sorry, I didn't catch that. Could you say it again?"


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolUse:
    name: str


@dataclass(frozen=True)
class StructuredAnswer:
    """The turn's content under response_format: JSON text (and the schema error, if it never matched)."""

    json: str
    error: str | None = None


@dataclass(frozen=True)
class TurnEnd:
    stop_reason: str | None
    input_tokens: int
    output_tokens: int
    tool_calls: tuple[tuple[str, str], ...]
    client_tool_calls: tuple[ClientToolCall, ...] = ()


TurnEvent = TextDelta | ToolUse | ClientToolCall | StructuredAnswer | TurnEnd


def _estimate_tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4) if text else 0


def _end(meter: TurnMeter, turn: TurnInput, reply: str, client_calls: list[ClientToolCall]) -> TurnEnd:
    if meter.reported:
        tokens_in, tokens_out = meter.input_tokens, meter.output_tokens
    else:  # the provider gave no counts: 1 token per 4 characters
        prompt = (turn.query or "") + "".join(message.content or "" for message in turn.history)
        tokens_in, tokens_out = _estimate_tokens(prompt), _estimate_tokens(reply)
    if client_calls:
        stop = "tool_use"
    elif meter.structured is not None:
        stop = "end_turn"  # the answer tool is how the model finished, not a call for the client
    else:
        stop = meter.stop_reason
    return TurnEnd(stop, tokens_in, tokens_out, tuple(meter.tool_calls), tuple(client_calls))


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
    context = TurnContext(phone=turn.phone, request_id=turn.request_id, inference=turn.inference, tools=turn.tools)
    client_tools = {tool.metadata.name for tool in turn.tools.extra_tools if isinstance(tool, ClientTool)}
    # The workflow's tasks are created inside this copy, so its steps and tools see the turn.
    run_context = contextvars.copy_context()
    run_context.run(current_turn.set, context)
    handler = run_context.run(agent.run, user_msg=turn.query, chat_history=list(turn.history))
    speaker = _Speaker()
    filler = turn.tool_filler
    client_calls: list[ClientToolCall] = []
    try:
        async for event in handler.stream_events():
            if isinstance(event, AgentStream) and event.delta:
                if turn.structured:
                    continue  # the answer is the tool's JSON; model chatter is not content
                if delta := speaker.say(speaker.filter.feed(event.delta)):
                    yield delta
            elif isinstance(event, ToolCall) and event.tool_name in client_tools:
                call = ClientToolCall(event.tool_id, event.tool_name, json.dumps(event.tool_kwargs, ensure_ascii=False))
                client_calls.append(call)
                yield call
            elif isinstance(event, ToolCall):
                yield ToolUse(event.tool_name)
                if filler and not turn.structured and (delta := speaker.say(filler)):
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
    if turn.structured:
        answer, error = context.meter.structured or ("{}", "The model gave no answer in the requested format.")
        yield StructuredAnswer(answer, error)
    else:
        if delta := speaker.say(speaker.filter.flush()):
            yield delta
        if not client_calls and not "".join(speaker.spoken).strip():
            yield speaker.say(EMPTY_REPLY)
    yield _end(context.meter, turn, "".join(speaker.spoken), client_calls)
