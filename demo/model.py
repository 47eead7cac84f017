"""The offline demo model (`FINTALK_LLM=demo`): deterministic, rule-based, clearly labelled.

It is NOT a language model. It reads the Converse request the loop would send to Bedrock, picks
the bank's tools by keyword intent (`demo.rules`) and phrases replies from the tool
results. It answers with the same events as `agent.bedrock.stream`, so the whole product (loop,
tools, streaming, database) runs on a machine without AWS. It reads the instructions it is sent
(the caller's first name, an outbound call's purpose) and fills a client tool's arguments with
values its JSON schema accepts. Replies are yielded word by word as they are produced (no
pacing); usage is estimated at one token per four characters.
"""
import re
import uuid
from typing import AsyncIterator

from agent.converse import ModelEvent, Stop, Text, ToolUse, Usage
from agent.models import DEMO_EMBEDDING_MODEL_ID, DEMO_MODEL_ID  # noqa: F401
from demo.rules import ASK_LAST4, CAPABILITIES, GREETING, REDIRECT, decide, said, text_of  # noqa: F401



def _words(text: str) -> list[str]:
    """Capitalised words of the caller's ("Paris", "New York"): likely values for a name-like string."""
    return re.findall(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?: [A-Z][a-z]+)*", text)


def instance_of(schema: dict, text: str = "", *, answer: bool = False, name: str = ""):
    """A value valid against a JSON schema. For the structured answer (`answer`), strings carry the
    reply text; for a client tool's arguments, strings come from the schema (enum, default,
    examples, format) or from the caller's words, numbers from its bounds."""
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return instance_of(schema[key][0], text, answer=answer, name=name)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if "default" in schema and not answer:
        return schema["default"]
    if schema.get("examples") and not answer:
        return schema["examples"][0]
    kind = schema.get("type", "object")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        properties = schema.get("properties", {})
        names = schema.get("required") or list(properties)
        if not properties and not names:
            return {"reply": text} if answer else {}
        return {key: instance_of(properties.get(key, {"type": "string"}), text, answer=answer, name=key)
                for key in names}
    if kind == "array":
        items = schema.get("items", {"type": "string"})
        return [instance_of(items, text, answer=answer, name=name)] * schema.get("minItems", 0)
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        return low + 1 if "exclusiveMinimum" in schema and "minimum" not in schema else low
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    if answer:
        return text
    formats = {"date": "2026-01-01", "date-time": "2026-01-01T00:00:00Z", "email": "demo@example.com",
               "uri": "https://example.com", "uuid": "00000000-0000-0000-0000-000000000000"}
    if schema.get("format") in formats:
        return formats[schema["format"]]
    words = _words(text)
    return words[-1] if words else name or "demo"


def _step(request: dict):
    """decide(), under the request's toolConfig: a forced tool, or any tool (the answer tool last)."""
    config = request.get("toolConfig") or {}
    specs = {spec["toolSpec"]["name"]: spec["toolSpec"] for spec in config.get("tools", ())}
    choice = config.get("toolChoice") or {"auto": {}}
    system = " ".join(block.get("text", "") for block in request.get("system", ()))
    step = decide(request["messages"], set(specs), system)
    caller = next((said(m) for m in reversed(request["messages"]) if m["role"] == "user" and said(m)), "")
    forced = choice.get("tool", {}).get("name")
    if forced in specs:
        return forced, instance_of(specs[forced]["inputSchema"]["json"], caller)
    if isinstance(step, str) and "any" in choice and specs:
        answer = list(specs.values())[-1]  # the structured answer, else the last client tool
        return answer["name"], instance_of(answer["inputSchema"]["json"], step, answer=True)
    if isinstance(step, str):
        return step
    if step[0] not in specs:
        return CAPABILITIES  # tools are off for this turn (tool_choice "none")
    name, arguments, *first = step
    if not arguments and specs[name]["inputSchema"]["json"].get("required"):
        arguments = instance_of(specs[name]["inputSchema"]["json"], caller)  # a client tool, e.g. transferCall
    return name, arguments, *first


def _tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4) if text else 0


async def stream(request: dict) -> AsyncIterator[ModelEvent]:
    """The demo model's answer to a Converse request, as the events Bedrock's stream gives."""
    step = _step(request)
    prompt = " ".join(text_of(message) for message in request["messages"])
    prompt += " ".join(block.get("text", "") for block in request.get("system", ()))
    if isinstance(step, str):
        for word in re.findall(r"\S+\s*", step):
            yield Text(word)
        yield Stop("end_turn")
        yield Usage(_tokens(prompt), _tokens(step))
    else:
        name, arguments, *first = step
        for word in re.findall(r"\S+\s*", first[0] if first else ""):
            yield Text(word)
        yield ToolUse(f"demo_{uuid.uuid4().hex[:12]}", name, arguments)
        yield Stop("tool_use")
        yield Usage(_tokens(prompt), 5)
