"""What a turn takes and what it yields: the contract between the agent loop and the API layer.

The API layer builds a `TurnInput` from a request and turns the events of `agent.loop.run_turn`
into the wire format; nothing here knows either the wire format or the model (the history is
neutral: `agent.converse.converse_messages` builds the model's messages from it).
"""
from dataclasses import dataclass, field
from decimal import Decimal

from agent.client_tools import ClientToolCall
from agent.context import InferenceSettings, ToolPolicy


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """A tool call the assistant made earlier in the conversation (the client ran it)."""

    id: str
    name: str
    arguments: str  # JSON text, as the client sent it back


@dataclass(frozen=True, slots=True)
class HistoryMessage:
    """One earlier message of the conversation: the caller's, the assistant's, or a tool's result."""

    role: str  # "user", "assistant" or "tool"
    text: str = ""
    tool_calls: tuple[ToolCallRecord, ...] = ()  # the assistant's calls
    tool_call_id: str | None = None  # a tool result: the call it answers


@dataclass(frozen=True)
class TurnInput:
    query: str | None  # None: the history ends with tool results and the model goes on from there
    history: tuple[HistoryMessage, ...] = ()
    instructions: str | None = None  # the request's own system/developer text, after the agent's prompt
    phone: str | None = None
    call_id: str | None = None  # the voice platform's call, for what is cached per call
    request_id: str = ""
    inference: InferenceSettings = field(default_factory=InferenceSettings)
    tool_filler: str | None = None  # spoken once when the agent decides to call a tool
    tools: ToolPolicy = field(default_factory=ToolPolicy)
    # A Vapi outbound call's request body, from which the loop finds the bank's outbound request it is
    # about (outbound.selectors.outbound_context); None on every other call.
    outbound_request: dict | None = None
    actor: str = ""  # a staff user acting from the console's playground: the audit trail names them
    verstat: str | None = None  # the carrier's STIR/SHAKEN verdict on the caller ID, as the platform passed it


# Said when a turn would otherwise end in silence (e.g. the model wrote only <thinking>).
EMPTY_REPLY = "Sorry, I didn't catch that. Could you say it again?"


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolStarted:
    """One of the agent's own tools is about to run (the caller hears the filler, if any)."""

    name: str


@dataclass(frozen=True)
class ModelAnswering:
    """Another model than the one asked for answers this turn (a failover before the first word):
    sent before its first word, so that every chunk can name it."""

    model_id: str


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
    history_trimmed: int = 0  # older messages left out to fit FINTALK_MAX_INPUT_TOKENS
    verification_level: int | None = None  # the level the call is known to have reached (None: not looked at)
    handoff_reason: str | None = None  # the turn handed the caller to a person, and why
    customer_id: int | None = None  # the customer the phone line identified, if any
    cache_read_tokens: int = 0  # prompt tokens Bedrock read from its cache (not in input_tokens)
    cache_write_tokens: int = 0  # prompt tokens Bedrock wrote to its cache (not in input_tokens)
    model_id: str | None = None  # the model that answered, after any failover
    cost_usd: Decimal | None = None  # this turn's tokens at BEDROCK_PRICES (None: the model has no price)
    guardrail: bool = False  # a Bedrock guardrail intervened and ended the turn


TurnEvent = TextDelta | ToolStarted | ClientToolCall | StructuredAnswer | ModelAnswering | TurnEnd
