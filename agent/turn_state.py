"""One turn's state: what the loop (agent.loop) keeps between its model calls. The request to the
model, built once (instructions, history trimmed to the budget, the tools offered), the context the
tools run in, what was spoken (`_Speaker`, the speech filter) and what the turn ended with."""
import json
import logging

from asgiref.sync import sync_to_async
from django.conf import settings

from agent import metrics
from agent.client_tools import ClientTool, ClientToolCall, StructuredOutputTool
from agent.context import TurnContext, TurnMeter
from agent.converse import Inference, converse_messages, request_metadata, tool_specs, trim
from agent.models import for_model, resolve_model, turn_cost
from agent.prompts import Caller, outbound_brief, system_prompt
from agent.speech import SpeechFilter
from agent.tools import TRANSFER_CALL, agent_tool_specs, call_session
from agent.turn import StructuredAnswer, TextDelta, TurnEnd, TurnInput

logger = logging.getLogger("fintalk.agent")


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


class TurnState:
    """One turn's state: the request to the model as it grows, and what the turn has said and done."""

    def __init__(self, turn: TurnInput, caller: Caller, outbound=None):
        self.input = turn
        self.caller = caller
        policy = turn.tools
        self.fixed = agent_tool_specs(outbound=outbound is not None) if policy.offer_tools else None
        self.extra = policy.extra_tools if policy.offer_tools else ()
        self.client_tools = {tool.metadata.name for tool in self.extra if isinstance(tool, ClientTool)}
        self.context = TurnContext(phone=turn.phone, request_id=turn.request_id, call_id=turn.call_id,
                                   client_tools=frozenset(self.client_tools), outbound=outbound, actor=turn.actor,
                                   verstat=turn.verstat,
                                   turn=sum(message.role == "user" for message in turn.history)
                                   + (turn.query is not None))
        self.answer_tool = next((tool for tool in self.extra if isinstance(tool, StructuredOutputTool)), None)
        self.structured_attempts = 0
        self.specs = tool_specs(self.fixed, self.extra)  # the same for every model call of the turn
        messages, system = converse_messages(system_prompt(caller, outbound_brief(outbound)), turn.instructions,
                                             turn.history, turn.query)
        messages, self.trimmed = trim(messages, system, settings.FINTALK_MAX_INPUT_TOKENS)
        if self.trimmed:
            logger.info("history trimmed", extra={"request_id": turn.request_id, "history_trimmed": self.trimmed})
        inference = turn.inference
        if inference.model_id is None:  # a turn built outside the API (a test, the bench): the default model
            inference = for_model(inference, resolve_model(None))
        self.request = {
            "modelId": inference.model_id, "messages": messages, "system": system,
            "inferenceConfig": Inference(inference.max_tokens, inference.temperature, inference.top_p,
                                         inference.stop).config(),
            "requestMetadata": request_metadata(turn.call_id, turn.request_id),
        }
        self.committed: list[str] = []  # what tools said of account changes they committed this turn
        self.answering: str | None = None  # a fallback model answers: to be announced before its first word
        self.speaker = _Speaker()
        self.client_calls: list[ClientToolCall] = []
        self.structured: StructuredAnswer | None = None

    def next_request(self, first: bool) -> dict:
        policy = self.input.tools
        choice = None
        if policy.force_every_call:
            choice = {"any": {}}
        elif policy.choice and first and self.input.query is not None:
            choice = policy.choice  # forcing again after the tool ran would loop
        request = dict(self.request)
        if self.specs:
            request["toolConfig"] = {"tools": self.specs, "toolChoice": choice or {"auto": {}}}
        return request

    def answered(self, model_id: str) -> None:
        """The model that answers the turn (a fallback, after a failover): the next calls go to it too,
        and the caller's chunks name it (`ModelAnswering`, before its first word)."""
        if model_id != self.request["modelId"]:
            self.answering = model_id
        self.request["modelId"] = model_id

    def tool(self, name: str):
        if self.fixed and name in self.fixed.by_name:
            return self.fixed.by_name[name]
        return None

    def end(self) -> TurnEnd:
        meter = self.context.meter
        if self.client_calls:
            stop = "tool_use"
        elif self.structured is not None:
            stop = "end_turn"  # the answer tool is how the model finished, not a call for the client
        else:
            stop = meter.stop_reason
        model_id = self.request["modelId"]
        cost = turn_cost(model_id, meter.input_tokens, meter.output_tokens, meter.cache_read_tokens,
                         meter.cache_write_tokens)
        _count(model_id, meter, cost)
        facts = self.context.facts
        return TurnEnd(stop, meter.input_tokens, meter.output_tokens, tuple(meter.tool_calls),
                       tuple(self.client_calls), self.trimmed, cache_read_tokens=meter.cache_read_tokens,
                       cache_write_tokens=meter.cache_write_tokens, model_id=model_id, cost_usd=cost,
                       guardrail=meter.guardrail is not None, verification_level=facts.verification_level,
                       handoff_reason=facts.handoff_reason, customer_id=self.caller.customer_id)

    def scrub(self) -> None:
        """Take what a tool marked secret (a used one-time code) out of everything the model sees next."""
        secrets = [secret for secret in self.context.facts.secrets if secret]
        if not secrets:
            return
        text = json.dumps(self.request["messages"], ensure_ascii=False)
        for secret in secrets:
            text = text.replace(secret, "[redacted]")
        self.request["messages"] = json.loads(text)
        self.context.facts.secrets.clear()

    async def handed_over(self, call: ClientToolCall) -> None:
        """The model transferred the call with the client's transferCall: record the handoff once."""
        if call.name == TRANSFER_CALL and self.context.facts.handoff_reason is None:
            from bank import services

            reason = "transferred to a person"
            self.context.facts.handoff_reason = reason
            await sync_to_async(services.handoff_record)(session=call_session(self.context), reason=reason)


def _count(model_id: str, meter: TurnMeter, cost) -> None:
    metrics.ANSWERED.labels(model=model_id).inc()
    if cost:
        metrics.COST.labels(model=model_id).inc(float(cost))
    if meter.cache_read_tokens:
        metrics.CACHE_TOKENS.labels(kind="read").inc(meter.cache_read_tokens)
    if meter.cache_write_tokens:
        metrics.CACHE_TOKENS.labels(kind="write").inc(meter.cache_write_tokens)
    if meter.guardrail is not None:
        metrics.GUARDRAIL_INTERVENTIONS.labels(model=model_id).inc()
