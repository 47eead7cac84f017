"""The offline demo model (`FINTALK_LLM=demo`): deterministic, rule-based, clearly labelled.

It is NOT a language model. It reads the Converse request the loop would send to Bedrock, picks
the bank's tools by keyword intent (loans, who am I, list cards, block a card — asking for the
last four digits when they are missing) and phrases replies from the tool results. It answers
with the same events as `agent.bedrock.stream`, so the whole product (loop, tools, streaming,
database) runs on a machine without AWS. Replies are yielded word by word as they are produced
(no pacing); usage is estimated at one token per four characters.
"""
import re
import uuid
from typing import AsyncIterator

from agent.converse import ModelEvent, Stop, Text, ToolUse, Usage
from agent.prompts import CALL_OPENING_QUERY

DEMO_MODEL_ID = "fintalk-demo"
DEMO_EMBEDDING_MODEL_ID = "fintalk-demo-embedding"

GREETING = ("Hello, this is Fin, the Fintalk Bank demo assistant. I can tell you about our loans, "
            "list your cards, or block a lost card. How can I help?")
CAPABILITIES = ("I'm the Fintalk demo assistant, so I can only do a few things: tell you about our loans, "
                "tell you who you are and which cards you hold, and block a lost or stolen card.")
REDIRECT = ("I can't do that by phone. Please use the Fintalk mobile app or visit a branch for that.")
ASK_LAST4 = "I can block your card. What are the last four digits of the card?"

_LAST4_ASKED = "last four digits"
_FOUR_DIGITS = re.compile(r"(?<!\d)\d{4}(?!\d)")
_SPOKEN_DIGITS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                  "six": "6", "seven": "7", "eight": "8", "nine": "9"}


def _text(message: dict) -> str:
    """A Converse message's text: its text blocks, or the text of the tool results it carries."""
    parts = []
    for block in message.get("content", ()):
        if "text" in block:
            parts.append(block["text"])
        elif "toolResult" in block:
            parts.extend(item.get("text", "") for item in block["toolResult"].get("content", ()))
    return " ".join(part for part in parts if part)


def _only_tool_results(message: dict) -> bool:
    """A user message that carries tool results and no words of the caller's."""
    blocks = message.get("content", ())
    return any("toolResult" in block for block in blocks) and not any(block.get("text") for block in blocks)


def _said(message: dict) -> str:
    """The caller's own words in a user message (a tool result merged into it is not)."""
    return " ".join(block["text"] for block in message.get("content", ()) if block.get("text"))


def _last4(text: str) -> str | None:
    """Four digits, typed or spoken ("four two four two", "42-42"), standing alone."""
    spoken = re.sub(r"[a-z]+", lambda m: _SPOKEN_DIGITS.get(m.group(0), m.group(0)), text.lower())
    joined = re.sub(r"(?<=\d)[\s.,-]+(?=\d)", "", spoken)
    match = _FOUR_DIGITS.search(joined)
    return match.group(0) if match else None


def _loan_kind(text: str) -> str | None:
    for kind, words in (("home", ("home", "house", "mortgage")), ("auto", ("car", "auto", "vehicle")),
                        ("personal", ("personal",)), ("student", ("student", "college")),
                        ("business", ("business",))):
        if any(word in text for word in words):
            return kind
    return None


def instance_of(schema: dict, text: str):
    """A small value valid against a JSON schema, carrying the reply text in its strings."""
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return instance_of(schema[key][0], text)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        properties = schema.get("properties", {})
        names = schema.get("required") or list(properties)
        return {name: instance_of(properties.get(name, {"type": "string"}), text) for name in names} \
            if properties or names else {"reply": text}
    if kind == "array":
        return [instance_of(schema.get("items", {"type": "string"}), text)] * schema.get("minItems", 0)
    return {"string": text, "integer": schema.get("minimum", 0), "number": schema.get("minimum", 0),
            "boolean": False, "null": None}.get(kind, text)


def _client_tool_step(user: str, tool_names: set[str]) -> tuple[str, dict] | None:
    if "transferCall" in tool_names and re.search(r"\b(person|human|agent|representative|someone)\b", user):
        return "transferCall", {}
    if "endCall" in tool_names and re.search(r"\b(bye|goodbye|end the call|hang up|that's all)\b", user):
        return "endCall", {}
    return None


def decide(messages: list[dict], tool_names: set[str] = frozenset()) -> tuple[str, dict] | str:
    """The next step, from Converse messages: a tool call `(name, kwargs)` or the reply text."""
    last = messages[-1]
    if _only_tool_results(last):
        return _text(last) or "Done."
    user = _said(last).lower()
    if client_step := _client_tool_step(user, tool_names):
        return client_step
    previous = next((_text(m) for m in reversed(messages[:-1]) if m["role"] == "assistant"), "")
    conversation = " ".join(_said(m).lower() for m in messages if m["role"] == "user")
    reason = "stolen" if "stolen" in conversation else "lost"
    if user == CALL_OPENING_QUERY.lower() or re.fullmatch(r"\W*(hi|hello|hey|good (morning|afternoon|evening))\W*", user):
        return GREETING
    if _LAST4_ASKED in previous and (digits := _last4(user)):
        return "block_credit_card", {"card_last4": digits, "reason": reason}
    if re.search(r"\b(unblock|balance|transactions?|transfer|pay)\b", user):
        return REDIRECT
    if re.search(r"\b(block|lost|stolen|freeze|cancel)\b", user):
        digits = _last4(user)
        return ("block_credit_card", {"card_last4": digits, "reason": reason}) if digits else ASK_LAST4
    if re.search(r"\b(loans?|mortgages?|borrow|financ\w*)\b", user):
        kind = _loan_kind(user)
        return "get_loan_products", ({"kind": kind} if kind else {})
    if re.search(r"\bcards?\b", user):
        return "list_credit_cards", {}
    if re.search(r"\b(who am i|my name|my profile|my account|identify)\b", user):
        return "get_customer_profile", {}
    return CAPABILITIES


def _step(request: dict):
    """decide(), under the request's toolChoice: a forced tool, or any tool (the answer tool last)."""
    config = request.get("toolConfig") or {}
    specs = {spec["toolSpec"]["name"]: spec["toolSpec"] for spec in config.get("tools", ())}
    choice = config.get("toolChoice") or {"auto": {}}
    step = decide(request["messages"], set(specs))
    forced = choice.get("tool", {}).get("name")
    if forced in specs:
        return forced, instance_of(specs[forced]["inputSchema"]["json"], "")
    if isinstance(step, str) and "any" in choice and specs:
        answer = list(specs.values())[-1]  # the structured answer, else the last client tool
        return answer["name"], instance_of(answer["inputSchema"]["json"], step)
    if not isinstance(step, str) and step[0] not in specs:
        return CAPABILITIES  # tools are off for this turn (tool_choice "none")
    return step


def _tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4) if text else 0


async def stream(request: dict) -> AsyncIterator[ModelEvent]:
    """The demo model's answer to a Converse request, as the events Bedrock's stream gives."""
    step = _step(request)
    prompt = " ".join(_text(message) for message in request["messages"])
    prompt += " ".join(block.get("text", "") for block in request.get("system", ()))
    if isinstance(step, str):
        for word in re.findall(r"\S+\s*", step):
            yield Text(word)
        yield Stop("end_turn")
        yield Usage(_tokens(prompt), _tokens(step))
    else:
        name, arguments = step
        yield ToolUse(f"demo_{uuid.uuid4().hex[:12]}", name, arguments)
        yield Stop("tool_use")
        yield Usage(_tokens(prompt), 5)
