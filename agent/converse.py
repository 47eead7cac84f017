"""The Converse shape every model speaks here: one request in, a few small events out.

A turn's model call is a Bedrock Converse request (`modelId`, `system`, `messages`,
`toolConfig`, `inferenceConfig`). Bedrock answers it for real (`agent.bedrock`); the demo model
answers it offline (`agent.demo`). Both yield the same neutral events, so the loop
(`agent.loop`) neither knows nor cares which one it talks to, and a test can feed it a script.

The request is built with LlamaIndex's own converters (`messages_to_converse_messages`,
`tools_to_converse_tools`); the specs of the agent's own tools are built once per process.
"""
import json
from dataclasses import dataclass
from typing import Any

from llama_index.core.llms import ChatMessage, MessageRole
from llama_index.llms.bedrock_converse.utils import messages_to_converse_messages, tools_to_converse_tools

from fintalk.exceptions import ContextLengthExceeded


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
    input_tokens: int
    output_tokens: int


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


def converse_messages(system_prompt: str, history, query: str | None) -> tuple[list, list]:
    """(messages, system) of a turn: the agent's prompt, the request's instructions and dialogue."""
    chat = [ChatMessage(role=MessageRole.SYSTEM, content=system_prompt), *history]
    if query is not None:
        chat.append(ChatMessage(role=MessageRole.USER, content=query))
    messages, system = messages_to_converse_messages(chat)
    return list(messages), list(system)


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
