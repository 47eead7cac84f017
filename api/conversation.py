"""Turns an OpenAI request (messages plus Vapi's extras) into one agent turn.

- system/developer messages become extra instructions (a system message the agent sends to the
  model after its own system prompt);
- earlier user/assistant/tool messages become the turn's history (`agent.turn.HistoryMessage`:
  neutral, so this layer knows the OpenAI format and not the model's);
- the last user message is the query (a call with only a system message gets an opening query);
- the caller's phone (`caller_phone`) comes from who vouches for it, in this order: the request's
  structured caller (Vapi's `customer.number` / `call.customer.number`, which the telephony network
  gives; the native endpoint's `phone_number`), the signed caller headers of other voice stacks
  (api/caller_signature.py, checked by the view), a `[phone: ...]` tag in a system/developer message
  (the bank's own assistant configuration), and a tag in a user message only when the request is
  not a voice-platform call and FINTALK_PHONE_TAGS=any (curl, the demo). A caller's own words on
  a call never choose the account. Every tag is stripped from what the model sees, trusted or not.
  The phone goes into the turn context for the tools: the model never chooses it either.
"""
import re

from django.conf import settings

from agent.client_tools import ClientTool, StructuredOutputTool, json_object_schema
from agent.context import InferenceSettings, ToolPolicy
from agent.models import ModelInfo, for_model, resolve_model
from agent.prompts import CALL_CONNECTED, CALL_OPENING_QUERY
from agent.turn import HistoryMessage, ToolCallRecord, TurnInput
from api.caller_signature import SignedCaller
from core.exceptions import InvalidRequest
from core.phones import e164

PHONE_TAG = re.compile(r"\[\s*phone\s*:\s*([^\]]*)\]", re.IGNORECASE)
# A one-time code the caller said or typed on the keypad ("User's Keypad Entry: 123456") in an
# earlier message: it was used (or is dead) by now, and the model never sees it again.
_SPENT_CODE = re.compile(r"(?<![\d.,-])\d(?:[ -]?\d){5}(?![\d.,-])")
_SPACES = re.compile(r"[ \t]{2,}")


def normalize_phone(raw: str) -> str | None:
    """E.164 form of a phone number, or None if it is not a valid number (core.phones)."""
    return e164(raw)


def _strip_tags(text: str, found: list[str]) -> str:
    if "[" not in text:
        return text
    tags = PHONE_TAG.findall(text)
    if not tags:
        return text
    found.extend(tags)
    return _SPACES.sub(" ", PHONE_TAG.sub(" ", text)).strip()


def _vapi_number(body: dict) -> str | None:
    for holder in (body.get("customer"), (body.get("call") or {}).get("customer") if isinstance(body.get("call"), dict) else None):
        if isinstance(holder, dict) and isinstance(holder.get("number"), str) and holder["number"].strip():
            return holder["number"]
    return None


# Where a turn's phone came from, for the request's log line (never the number itself).
CUSTOMER, SIGNED_HEADER, SYSTEM_TAG, USER_TAG, NO_PHONE = "customer", "signed_header", "system_tag", "user_tag", "none"


def _tag_phone(tag: str, param: str) -> str:
    phone = normalize_phone(tag)
    if phone is None:
        raise InvalidRequest(f"The phone tag '[phone: {tag}]' is not a valid phone number; "
                             "use E.164, e.g. [phone: +15550100001].", param=param)
    return phone


def caller_phone(body: dict, system_tags: list[str], user_tags: list[str],
                 signed: SignedCaller | None = None) -> tuple[str | None, str]:
    """The turn's phone and its source: the structured caller, else the last trusted tag.

    A system/developer tag is the bank's configuration (e.g. a prompt template inserting Vapi's
    `{{customer.number}}`); a user tag is trusted only off voice calls and with FINTALK_PHONE_TAGS=any,
    since on a call the user's words are the caller's. An empty tag (`[phone: ]`, a template on a
    web call) is no phone; any other trusted tag that is not a phone number is a 400."""
    vapi = _vapi_number(body)
    if vapi:
        phone = normalize_phone(vapi)  # web calls and withheld numbers give no usable number
        return phone, CUSTOMER if phone else NO_PHONE
    if signed is not None:  # a voice stack's signed caller: structured, like Vapi's
        phone = normalize_phone(signed.phone)
        return phone, SIGNED_HEADER if phone else NO_PHONE
    mode = settings.FINTALK_PHONE_TAGS
    system_tags = [tag for tag in system_tags if tag.strip()]
    user_tags = [tag for tag in user_tags if tag.strip()]
    if system_tags and mode != "off":
        return _tag_phone(system_tags[-1], "messages"), SYSTEM_TAG
    if user_tags and mode == "any" and not is_voice_call(body) and signed is None:
        return _tag_phone(user_tags[-1], "messages"), USER_TAG
    return None, NO_PHONE


def inference_settings(data: dict, model: ModelInfo | None = None) -> InferenceSettings:
    """The request's settings as the model that answers it (None: the default one) takes them
    (`agent.models.for_model`): the loop uses them as they are."""
    requested = InferenceSettings(
        temperature=data.get("temperature"),
        top_p=data.get("top_p"),
        max_tokens=data.get("max_completion_tokens") or data.get("max_tokens"),
        stop=tuple(data.get("stop") or ()),
    )
    return for_model(requested, model or resolve_model(None))


def call_id(body: dict) -> str | None:
    """The conversation this request belongs to: Vapi's `call.id`, else the client's
    `metadata.conversation_id` (README "The bank's guarantees"). What the caller proves (their
    verification, a payment's read-back) lives with it; with neither, with this request alone."""
    call, metadata = body.get("call"), body.get("metadata")
    value = call.get("id") if isinstance(call, dict) else None
    if not (isinstance(value, str) and value) and isinstance(metadata, dict):
        value = metadata.get("conversation_id")
    return value[:128] if isinstance(value, str) and value else None


def verstat(body: dict) -> str | None:
    """The carrier's STIR/SHAKEN verdict on the caller ID (bank.line), where the voice platform or the
    bank's SIP gateway passes it: `metadata.verstat`, or `call.customer.verstat`; a verstat value
    (`TN-Validation-Passed-A`) or the P-Asserted-Identity header that carries one."""
    call, metadata = body.get("call"), body.get("metadata")
    customer = call.get("customer") if isinstance(call, dict) else None
    for source in (metadata, customer):
        value = source.get("verstat") if isinstance(source, dict) else None
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return None


def outbound_request(body: dict) -> dict | None:
    """The body of a Vapi outbound call (the bank rang the customer), for the agent to find why."""
    call = body.get("call")
    return body if isinstance(call, dict) and call.get("type") == "outboundPhoneCall" else None


def is_voice_call(body: dict) -> bool:
    """Vapi sends its `call` object with every custom-LLM request; what we stream is spoken."""
    return isinstance(body.get("call"), dict)


def tool_filler(body: dict, voice: bool = False) -> str | None:
    mode = settings.FINTALK_TOOL_FILLER
    if mode == "on" or (mode == "auto" and (voice or is_voice_call(body))):
        return settings.FINTALK_TOOL_FILLER_TEXT
    return None


def tool_policy(data: dict) -> ToolPolicy:
    """The client's tools, tool_choice and response_format as the turn's tool policy."""
    tools = tuple(ClientTool(t["function"]["name"], t["function"]["description"], t["function"]["parameters"])
                  for t in data.get("tools") or ())
    choice = data.get("tool_choice") or "auto"
    response_format = data.get("response_format") or {"type": "text"}
    if response_format["type"] != "text":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema") or json_object_schema()
        answer = StructuredOutputTool(spec.get("name", "response"), schema, strict=bool(spec.get("strict")))
        return ToolPolicy(extra_tools=tools + (answer,), force_every_call=True)
    if choice == "none":
        return ToolPolicy(offer_tools=False)
    if choice == "required":
        return ToolPolicy(extra_tools=tools, choice={"any": {}})
    if isinstance(choice, dict):
        return ToolPolicy(extra_tools=tools, choice={"tool": {"name": choice["name"]}})
    return ToolPolicy(extra_tools=tools)


def _message(role: str, text: str, message: dict) -> HistoryMessage | None:
    """One OpenAI user/assistant/tool message as a history message (None if it says nothing)."""
    if role == "tool":
        return HistoryMessage("tool", text, tool_call_id=message["tool_call_id"])
    calls = message.get("tool_calls") or []
    if role == "assistant" and calls:
        return HistoryMessage("assistant", text, tool_calls=tuple(
            ToolCallRecord(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls))
    return HistoryMessage(role, text) if text else None


def _without_codes(message: HistoryMessage) -> HistoryMessage:
    if message.role != "user" or not _SPENT_CODE.search(message.text):
        return message
    return HistoryMessage("user", _SPENT_CODE.sub("[code]", message.text))


def build_turn(data: dict, body: dict, request_id: str = "", model: ModelInfo | None = None,
               signed: SignedCaller | None = None) -> tuple[TurnInput, str]:
    """The turn and who vouched for its phone (`caller_phone`'s source, for the request's log line).
    `data`: the validated ChatCompletionRequestSerializer output; `body`: the raw JSON (for Vapi's
    extras); `model`: the model that answers (None: the default one); `signed`: a voice stack's
    trusted caller headers (api/caller_signature.py), which make the request a voice call."""
    system_tags: list[str] = []
    user_tags: list[str] = []  # assistant and tool messages' tags are stripped and never trusted
    instructions, dialogue = [], []
    for message in data["messages"]:
        role = message["role"]
        found = system_tags if role in ("system", "developer") else user_tags if role == "user" else []
        text = _strip_tags(message.get("content") or "", found)
        if role in ("system", "developer"):
            if text:
                instructions.append(text)
        elif converted := _message(role, text, message):
            dialogue.append(converted)

    if dialogue and dialogue[-1].role == "user":
        query = dialogue.pop().text
        dialogue = [_without_codes(message) for message in dialogue]
    elif dialogue and dialogue[-1].role == "tool":
        query = None  # the client answered tool calls: the model goes on from the results
    else:
        query = CALL_OPENING_QUERY
    if dialogue and dialogue[0].role == "assistant":
        # A voice platform's greeting opens the call; Bedrock wants a conversation to start with the user.
        dialogue.insert(0, HistoryMessage("user", CALL_CONNECTED))
    phone, phone_source = caller_phone(body, system_tags, user_tags, signed)
    turn = TurnInput(
        query=query,
        history=tuple(dialogue),
        instructions="\n\n".join(instructions) or None,
        phone=phone,
        call_id=call_id(body) or (signed.call_id if signed else None),
        request_id=request_id,
        inference=inference_settings(data, model),
        tool_filler=tool_filler(body, voice=signed is not None),
        tools=tool_policy(data),
        outbound_request=outbound_request(body),
        verstat=verstat(body),
    )
    return turn, phone_source


def build_native_turn(query: str, phone_number: str | None, request_id: str = "",
                      model: ModelInfo | None = None) -> tuple[TurnInput, str]:
    """The native endpoint's turn and its phone's source: `phone_number` is its structured caller; a
    tag in the query is a user's tag (trusted with FINTALK_PHONE_TAGS=any: this endpoint is never a
    voice-platform call)."""
    tags: list[str] = []
    text = _strip_tags(query, tags)
    if phone_number:
        phone, source = normalize_phone(phone_number), CUSTOMER
        if phone is None:
            raise InvalidRequest(f"'{phone_number}' is not a valid phone number; use E.164, e.g. +15550100001.",
                                 param="phone_number")
    else:
        phone, source = caller_phone({}, [], tags)
    if not text:
        raise InvalidRequest("The query is empty once the phone tag is removed.", param="query")
    return TurnInput(query=text, phone=phone, request_id=request_id, inference=inference_settings({}, model)), source
