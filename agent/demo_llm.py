"""The offline demo model (`FINTALK_LLM=demo`): deterministic, rule-based, clearly labelled.

It is NOT a language model. It reads the conversation, picks the bank's tools by keyword intent
(loans, who am I, list cards, block a card — asking for the last four digits when they are
missing) and phrases replies from the tool results. It plugs into the same FunctionAgent, tools,
streaming and database as Bedrock, so the whole product runs on a machine without AWS. Replies
are streamed word by word as they are produced (no pacing); usage is estimated by the turn.
"""
import re
import uuid
from typing import Any, Sequence

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    CompletionResponse,
    LLMMetadata,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection

from agent.client_tools import StructuredOutputTool
from agent.context import turn
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


def _text(message: ChatMessage) -> str:
    return "".join(block.text for block in message.blocks if isinstance(block, TextBlock))


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


def decide(messages: Sequence[ChatMessage], tool_names: set[str] = frozenset()) -> tuple[str, dict] | str:
    """The next step: a tool call `(name, kwargs)` or the reply text."""
    last = messages[-1]
    if last.role == MessageRole.TOOL:
        return _text(last) or "Done."
    user = _text(last).lower()
    if client_step := _client_tool_step(user, tool_names):
        return client_step
    previous = next((_text(m) for m in reversed(messages[:-1]) if m.role == MessageRole.ASSISTANT), "")
    conversation = " ".join(_text(m).lower() for m in messages if m.role == MessageRole.USER)
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


class DemoBankLLM(FunctionCallingLLM):
    """A function-calling LLM for LlamaIndex whose 'model' is `decide()` above."""

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=DEMO_MODEL_ID, is_chat_model=True, is_function_calling_model=True,
                           context_window=32_000, num_output=4096)

    @classmethod
    def class_name(cls) -> str:
        return "FintalkDemoBankLLM"

    def _respond(self, messages: Sequence[ChatMessage], tools: Sequence = ()) -> ChatResponse:
        policy = turn().tools
        by_name = {tool.metadata.name: tool for tool in tools}
        step = decide(messages, set(by_name))
        forced = policy.choice.get("tool", {}).get("name") if policy.choice else None
        first_call = messages[-1].role == MessageRole.USER
        if forced and first_call and forced in by_name:
            step = forced, instance_of(by_name[forced].metadata.get_parameters_dict(), "")
        if isinstance(step, str) and (policy.force_every_call or (policy.choice and first_call)) and tools:
            # A tool must be called: the answer tool (structured output) or else the first client tool.
            answer = next((t for t in tools if isinstance(t, StructuredOutputTool)), tools[-1])
            step = answer.metadata.name, instance_of(answer.metadata.get_parameters_dict(), step)
        if isinstance(step, str):
            return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=step))
        name, kwargs = step
        call = ToolCallBlock(tool_call_id=f"demo_{uuid.uuid4().hex[:12]}", tool_name=name, tool_kwargs=kwargs)
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, blocks=[call]))

    def _prepare_chat_with_tools(self, tools, user_msg=None, chat_history=None, **kwargs: Any) -> dict:
        messages = list(chat_history or [])
        if user_msg is not None:
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg) if isinstance(user_msg, str) else user_msg)
        return {"messages": messages, "tools": list(tools)}

    def get_tool_calls_from_response(self, response: ChatResponse, error_on_no_tool_call: bool = True,
                                     **kwargs: Any) -> list[ToolSelection]:
        calls = [block for block in response.message.blocks if isinstance(block, ToolCallBlock)]
        if not calls and error_on_no_tool_call:
            raise ValueError("Expected a tool call, got none.")
        return [ToolSelection(tool_id=c.tool_call_id, tool_name=c.tool_name, tool_kwargs=c.tool_kwargs) for c in calls]

    async def achat(self, messages: Sequence[ChatMessage], tools: Sequence = (), **kwargs: Any) -> ChatResponse:
        return self._respond(messages, tools)

    async def astream_chat(self, messages: Sequence[ChatMessage], tools: Sequence = (),
                           **kwargs: Any) -> ChatResponseAsyncGen:
        response = self._respond(messages, tools)

        async def gen():
            if any(isinstance(block, ToolCallBlock) for block in response.message.blocks):
                yield response
                return
            text = ""
            for word in re.findall(r"\S+\s*", response.message.content or ""):
                text += word
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=word)

        return gen()

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._respond(messages, kwargs.get("tools", ()))

    def stream_chat(self, messages, **kwargs):
        raise NotImplementedError("The demo model streams asynchronously only (astream_chat).")

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self.chat([ChatMessage(role=MessageRole.USER, content=prompt)]).message.content)

    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return self.complete(prompt)

    def stream_complete(self, prompt, formatted=False, **kwargs):
        raise NotImplementedError("The demo model streams asynchronously only (astream_chat).")

    async def astream_complete(self, prompt, formatted=False, **kwargs):
        raise NotImplementedError("The demo model streams chat only (astream_chat).")
