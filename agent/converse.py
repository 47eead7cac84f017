"""The Converse shape every model speaks here: one request in, a few small events out.

A turn's model call is a Bedrock Converse request (`modelId`, `system`, `messages`,
`toolConfig`, `inferenceConfig`). Bedrock answers it for real (`agent.bedrock`); the demo model
answers it offline (the demo app, `demo.model`). Both yield the same neutral events, so the loop
(`agent.loop`) neither knows nor cares which one it talks to, and a test can feed it a script.

The turn's messages are built here from its neutral history (`agent.turn.HistoryMessage`), the
one place that knows Converse's message shapes; tool specs come from LlamaIndex's converter
(`tools_to_converse_tools`), the agent's own built once per process. `cache_points` marks what
Bedrock may cache for the next turn of a call.
"""
import json
import re
from dataclasses import dataclass
from typing import Any

from llama_index.llms.bedrock_converse.utils import tools_to_converse_tools

from agent.turn import HistoryMessage
from core.exceptions import ContextLengthExceeded


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class ToolUse:
    id: str
    name: str
    input: dict


@dataclass(frozen=True, slots=True)
class Stop:
    reason: str | None


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int  # Bedrock's inputTokens: without the tokens read from or written to the cache
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    guardrail: str | None = None  # a guardrail's trace summary, when one intervened


ModelEvent = Text | ToolUse | Stop | Usage


@dataclass(frozen=True, slots=True)
class Inference:
    """inferenceConfig of one call; None leaves a value to the model's default."""

    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()

    def config(self) -> dict:
        config: dict[str, Any] = {"maxTokens": self.max_tokens}
        if self.temperature is not None:
            config["temperature"] = self.temperature
        if self.top_p is not None:
            config["topP"] = self.top_p
        if self.stop:
            config["stopSequences"] = list(self.stop)
        return config


class ToolSpecs:
    """The toolSpecs of a fixed set of tools, converted once (JSON schemas cost ~0.5 ms a tool)."""

    def __init__(self, tools):
        self.tools = list(tools)
        self.by_name = {tool.metadata.name: tool for tool in self.tools}
        self.specs = (tools_to_converse_tools(self.tools) or {}).get("tools", [])


def tool_specs(fixed: ToolSpecs | None, extra=()) -> list[dict]:
    """The toolSpecs a turn offers: the agent's fixed tools plus the turn's own (client tools, the answer tool)."""
    specs = list(fixed.specs) if fixed else []
    if extra:
        specs += tools_to_converse_tools(list(extra))["tools"]
    return specs


def converse_messages(system_prompt: str, instructions: str | None, history: tuple[HistoryMessage, ...],
                      query: str | None) -> tuple[list, list]:
    """(messages, system) of a turn: the agent's prompt and the request's instructions as one system
    text, the history and the query as Converse messages (consecutive ones of a role merged, as
    Converse wants roles to alternate; a tool's result is the user's)."""
    system_text = "".join(f"{text}\n" for text in (system_prompt, instructions) if text).strip()
    messages: list[dict] = []
    for message in history:
        _append(messages, *_converse(message))
    if query is not None:
        _append(messages, "user", [{"text": query}] if query else [])
    return messages, [{"text": system_text}] if system_text else []


def _converse(message: HistoryMessage) -> tuple[str, list[dict]]:
    """A history message's Converse role and content blocks."""
    if message.role == "tool":
        result = {"toolUseId": message.tool_call_id, "content": [{"text": message.text}] if message.text else []}
        return "user", [{"toolResult": result}]
    content = [{"text": message.text}] if message.text else []
    content += [{"toolUse": {"toolUseId": call.id, "name": call.name, "input": _arguments(call.arguments)}}
                for call in message.tool_calls]
    return message.role, content


def _arguments(text: str):
    """A tool call's JSON arguments as Converse's `input` (what is not JSON is no arguments)."""
    try:
        return json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}


def _append(messages: list[dict], role: str, content: list[dict]) -> None:
    if not content:
        return
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"] = [*messages[-1]["content"], *content]
    else:
        messages.append({"role": role, "content": content})


CACHE_POINT = {"cachePoint": {"type": "default"}}


def cache_points(request: dict, *, tools: bool, min_tokens: int) -> dict:
    """A copy of a Converse request with cachePoints: after the system prompt, after the tool specs
    (`tools`: models that cache them) and after the history before the turn's own user message,
    when the instructions and that history reach `min_tokens` (a shorter prefix is never cached).
    Bedrock reads the longest cached prefix on the next turn of the call; at most 4 checkpoints."""
    request = dict(request)
    if request.get("system"):
        request["system"] = [*request["system"], CACHE_POINT]
    if tools and request.get("toolConfig", {}).get("tools"):
        request["toolConfig"] = {**request["toolConfig"], "tools": [*request["toolConfig"]["tools"], CACHE_POINT]}
    messages = request["messages"]
    opening = next((index for index in range(len(messages) - 1, 0, -1) if _opens_a_turn(messages[index])), 0)
    if opening and _reaches(request.get("system", ()), messages, opening, min_tokens):
        stable = messages[opening - 1]
        request["messages"] = [*messages[:opening - 1], {**stable, "content": [*stable["content"], CACHE_POINT]},
                               *messages[opening:]]
    return request


def _reaches(system, messages: list[dict], end: int, min_tokens: int) -> bool:
    """Whether the system text and messages[:end] are estimated at `min_tokens` or more (stops early)."""
    total = sum(estimate_tokens(block.get("text", "")) for block in system)
    for message in messages[:end]:
        if total >= min_tokens:
            return True
        total += _message_tokens(message)
    return total >= min_tokens


def assistant_message(text: str, calls: list[ToolUse]) -> dict:
    content = [{"text": text}] if text.strip() else []
    content += [{"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.input}} for call in calls]
    return {"role": "assistant", "content": content}


def tool_result(call: ToolUse, text: str, error: bool = False) -> dict:
    result = {"toolUseId": call.id, "content": [{"text": text}]}
    if error:
        result["status"] = "error"
    return {"toolResult": result}


def estimate_tokens(text: str) -> int:
    """About one token per four characters: what Bedrock's models count for English, within ~25%."""
    return (len(text) + 3) // 4


def _message_tokens(message: dict) -> int:
    total = 4  # role and framing
    for block in message["content"]:
        if "text" in block:
            total += estimate_tokens(block["text"])
        elif "toolUse" in block:
            total += 8 + estimate_tokens(json.dumps(block["toolUse"]["input"]))
        elif "toolResult" in block:
            total += 8 + sum(estimate_tokens(item.get("text", "")) for item in block["toolResult"]["content"])
    return total


def _opens_a_turn(message: dict) -> bool:
    """A user message that answers no tool call: history may start here without an orphaned result."""
    return message["role"] == "user" and not any("toolResult" in block for block in message["content"])


def trim(messages: list[dict], system: list[dict], budget: int) -> tuple[list[dict], int]:
    """The most recent messages that fit `budget` tokens with the system prompt, starting at a user
    turn (never between a tool call and its result); and how many older messages were dropped.
    Raises ContextLengthExceeded when not even the latest exchange fits."""
    used = sum(estimate_tokens(block.get("text", "")) for block in system)
    start = None
    for index in range(len(messages) - 1, -1, -1):
        used += _message_tokens(messages[index])
        if used > budget:
            break
        if _opens_a_turn(messages[index]):
            start = index
    if start is None:
        raise ContextLengthExceeded(
            f"The latest message is about {used} tokens with the instructions; this server sends at most "
            f"{budget} (FINTALK_MAX_INPUT_TOKENS). Send a shorter message.")
    return messages[start:], start


_METADATA_UNSAFE = re.compile(r"[^a-zA-Z0-9\s:_@$#=/+,.-]")


def request_metadata(call_id: str | None, request_id: str) -> dict:
    """requestMetadata for Bedrock's invocation logs: the call (when there is one) and the request,
    in the characters Bedrock accepts (at most 256 each)."""
    tags = {"fintalk_request_id": _METADATA_UNSAFE.sub("", request_id)[:256]}
    if call_id:
        tags["fintalk_call_id"] = _METADATA_UNSAFE.sub("", call_id)[:256]
    return tags
