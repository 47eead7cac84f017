"""What one agent turn knows about itself, reachable from tools without arguments.

The caller's phone lives here, set from the request by the API layer: a tool reads it from the
turn, so the model can never choose whose account it acts on. The loop runs the tools inside a
copy of the context that holds the turn (`agent.loop`), so every tool sees it.
"""
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class InferenceSettings:
    """A turn's model settings, decided once by the API layer for the answering model (agent.models.for_model)."""

    model_id: str | None = None  # the chat model that answers (None: the default one)
    temperature: float | None = None  # already in the model's range
    top_p: float | None = None
    max_tokens: int | None = None  # already within the model's output limit
    stop: tuple[str, ...] = ()


@dataclass
class TurnMeter:
    """Counts what the provider reported for every model call of the turn, and the tools' outcomes."""

    input_tokens: int = 0
    output_tokens: int = 0
    stop_reason: str | None = None
    tool_calls: list[tuple[str, str]] = field(default_factory=list)
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    guardrail: str | None = None  # what the guardrail's trace said, when one intervened

    def add_usage(self, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0) -> None:
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cache_read_tokens += cache_read
        self.cache_write_tokens += cache_write


@dataclass(frozen=True)
class ToolPolicy:
    """Which tools a turn offers and how the model must use them (from tools/tool_choice/response_format)."""

    extra_tools: tuple = ()  # the client's tools and the structured-output tool
    offer_tools: bool = True  # False for tool_choice "none"
    choice: dict | None = None  # Bedrock toolChoice for the turn's first model call, e.g. {"any": {}}
    force_every_call: bool = False  # structured output: every call must end in a tool call


@dataclass
class TurnFacts:
    """What the turn's tools learned that outlives them (shared by every tool of the turn)."""

    secrets: list[str] = field(default_factory=list)  # e.g. a one-time code once used: never sent to the model again
    verification_level: int | None = None  # the level the call is known to have reached (None: not looked at)
    handoff_reason: str | None = None  # the caller was handed to a person, and why


@dataclass
class TurnContext:
    phone: str | None = None
    request_id: str = ""
    meter: TurnMeter = field(default_factory=TurnMeter)
    call_id: str | None = None
    client_tools: frozenset[str] = frozenset()  # the client's function tools (e.g. Vapi's transferCall)
    outbound: object | None = None  # the bank's outbound request this call is about (outbound.selectors)
    facts: TurnFacts = field(default_factory=TurnFacts)
    turn: int = 0  # the caller's turns in the conversation so far, this one included
    actor: str = ""  # a staff user acting from the console (audited as them)
    verstat: str | None = None  # the carrier's STIR/SHAKEN verdict on the caller ID (bank.line), from the platform


current_turn: ContextVar[TurnContext | None] = ContextVar("fintalk_turn", default=None)


def current_turn_context() -> TurnContext:
    """The running turn's context; outside a turn (a shell, a unit test) an empty one."""
    return current_turn.get() or TurnContext()
