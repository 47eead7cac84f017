"""What one agent turn knows about itself, reachable from tools and the LLM without arguments.

The caller's phone lives here, set from the request by the API layer: a tool reads it from the
turn, so the model can never choose whose account it acts on. The agent's workflow tasks are
created inside a copy of the context that holds the turn, so every step and tool sees it.
"""
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class InferenceSettings:
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()


@dataclass
class TurnMeter:
    """Counts what the provider reported for every LLM call of the turn."""

    input_tokens: int = 0
    output_tokens: int = 0
    reported: bool = False
    stop_reason: str | None = None
    tool_calls: list[tuple[str, str]] = field(default_factory=list)
    structured: tuple[str, str | None] | None = None  # (JSON answer, schema error or None)

    def add_usage(self, usage: dict | None) -> None:
        if usage:
            self.reported = True
            self.input_tokens += int(usage.get("inputTokens", 0))
            self.output_tokens += int(usage.get("outputTokens", 0))


@dataclass(frozen=True)
class ToolPolicy:
    """Which tools a turn offers and how the model must use them (from tools/tool_choice/response_format)."""

    extra_tools: tuple = ()  # the client's tools and the structured-output tool
    offer_tools: bool = True  # False for tool_choice "none"
    choice: dict | None = None  # Bedrock toolChoice for the turn's first model call, e.g. {"any": {}}
    force_every_call: bool = False  # structured output: every call must end in a tool call


@dataclass
class TurnContext:
    phone: str | None = None
    request_id: str = ""
    inference: InferenceSettings = field(default_factory=InferenceSettings)
    tools: ToolPolicy = field(default_factory=ToolPolicy)
    meter: TurnMeter = field(default_factory=TurnMeter)


current_turn: ContextVar[TurnContext | None] = ContextVar("fintalk_turn", default=None)


def turn() -> TurnContext:
    """The running turn; outside a turn (a shell, a unit test) an empty one."""
    return current_turn.get() or TurnContext()
