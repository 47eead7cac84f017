"""The agent turn as one loop: call the model, speak its text, run the tools it asks for, repeat.

Each round streams one Converse call (Bedrock, or the demo model: the same events). Text goes
through the speech filter to the caller as it arrives; `toolUse` blocks are collected. When the
model stops for tools, the agent's tools run inline (in parallel when there are several), the
assistant message and the `toolResult`s are appended, and the model is called again. The turn
ends at `end_turn`, at a client tool or a structured answer, or after MAX_ROUNDS tool rounds
(then a spoken apology). A tool that raises or outlasts FINTALK_TOOL_TIMEOUT gives the model an
error result, not the caller an error.

The turn's first model call may go to a fallback model while nothing has been said
(`agent.bedrock.failover_stream`); a guardrail's intervention ends the turn with a whole sentence.

The loop yields `agent.turn` events; the API layer turns them into the wire format. A caller who
hangs up closes this generator, which closes the model stream in its `finally`.

Why one module of ~380 lines: it is one turn's state machine (`TurnState`, the rounds, the tool
runs, the guardrail and failure endings) whose helpers share that state and nothing else; the
parts with a life of their own already live apart (`converse`, `speech`, `bedrock`, `tools`).
"""
import asyncio
import contextvars
import dataclasses
import json
import logging
from typing import AsyncIterator

from asgiref.sync import sync_to_async
from django.conf import settings

from agent import callers
from agent.client_tools import MAX_STRUCTURED_ATTEMPTS, ClientToolCall
from agent.context import TurnMeter, current_turn
from agent.converse import Stop, Text, ToolUse, Usage, assistant_message, tool_result
from agent.models import model_stream
from agent.speech import SpeechFilter
from agent.tools import agent_tool_specs, committed, may_commit
from agent.turn import (EMPTY_REPLY, ModelAnswering, StructuredAnswer, TextDelta, ToolStarted, TurnEvent,
                        TurnInput)
from agent.turn_state import TurnState
from agent.upstream import to_fintalk_error

logger = logging.getLogger("fintalk.agent")

MAX_ROUNDS = 5  # model calls that end in tool use, per turn
TOO_MANY_ROUNDS = "I'm sorry, I couldn't finish that request. Could you ask me again in a different way?"
# A tool's result when it raised or timed out: the model apologises from it (the demo model reads it out).
TOOL_UNAVAILABLE = "I'm sorry, the bank's system for that is unavailable right now, so I can't do it at the moment."
# Said after a committed account change when the turn fails later: the caller must not think it failed.
# A tool's result when it failed after committing its change: done, whatever went wrong after.
DONE_UNREAD = "That's done, but I couldn't read the details back just now. A person can tell you more."
AFTER_COMMITTED = "I'm sorry, I had a problem after that. Could you say that again?"
GUARDRAIL_STOPS = frozenset({"guardrail_intervened", "content_filtered"})


async def warm_up() -> None:
    """Build what every turn uses before the first caller: the tools' specs and the model client."""
    agent_tool_specs()
    agent_tool_specs(outbound=True)
    if settings.FINTALK_LLM != "demo":
        from agent import bedrock

        await bedrock.warm_up()


def _first_stream(turn: TurnState, stream):
    """How the turn's first model call streams: with fallbacks configured, through the failover."""
    if settings.FINTALK_LLM == "demo" or not settings.BEDROCK_FALLBACK_MODEL_IDS:
        return stream
    from agent.bedrock import failover_stream

    return lambda request: failover_stream(request, turn.answered, turn.context.request_id)


async def _call_model(turn: TurnState, request: dict, stream, text: list[str]) -> AsyncIterator[TextDelta | ToolUse]:
    """One model call: spoken text as it arrives, then the tool calls; the meter gets stop and usage,
    `text` the model's raw text (for the assistant message of a tool round)."""
    meter = turn.context.meter
    structured = turn.answer_tool is not None
    async for event in stream(request):
        if type(event) is Text:
            if not structured and (delta := turn.speaker.say(turn.speaker.filter.feed(event.text))):
                yield delta
            text.append(event.text)
        elif type(event) is ToolUse:
            yield event
        elif type(event) is Stop:
            meter.stop_reason = event.reason
        elif type(event) is Usage:
            meter.add_usage(event.input_tokens, event.output_tokens, event.cache_read_tokens, event.cache_write_tokens)
            if event.guardrail and meter.stop_reason in GUARDRAIL_STOPS:  # a trace may come without a stop
                meter.guardrail = event.guardrail


async def _run_tool(turn: TurnState, call: ToolUse, meter: TurnMeter) -> dict:
    """Run one of the agent's tools; its result, or an error result the model can speak around.
    The tool records its outcome in `meter` (the bank's tools say which); else "ok" or "error"."""
    tool = turn.tool(call.name)
    if tool is None:
        meter.tool_calls.append((call.name, "unknown_tool"))
        return tool_result(call, f"There is no tool called {call.name}.", error=True)
    try:
        running = asyncio.ensure_future(tool.acall(**call.input))
        try:
            output = await asyncio.wait_for(asyncio.shield(running), settings.FINTALK_TOOL_TIMEOUT)
        except TimeoutError:
            if not may_commit(call.name):
                running.cancel()
                raise
            # A change to an account is never cut half-way: it may commit, and must then be reported.
            logger.warning("tool past its timeout; waiting, since it changes an account",
                           extra={"tool": call.name, "request_id": turn.context.request_id})
            output = await running
    except Exception as exc:
        timed_out = isinstance(exc, TimeoutError)
        # A change the tool committed before it failed stays its outcome, and the caller hears it is done.
        kept = [(name, outcome) for name, outcome in meter.tool_calls if committed(name, outcome)]
        meter.tool_calls[:] = kept or [(call.name, "error")]
        logger.error("tool %s", "timed out" if timed_out else "failed", exc_info=not timed_out, extra={
            "tool": call.name, "request_id": turn.context.request_id, "error": type(exc).__name__,
            "detail": str(exc)[:300], "committed": bool(kept)})  # the log filter masks phone and card numbers
        if kept:
            turn.committed.append(DONE_UNREAD)
            return tool_result(call, DONE_UNREAD)
        return tool_result(call, TOOL_UNAVAILABLE, error=True)
    if not meter.tool_calls:
        meter.tool_calls.append((call.name, "error" if output.is_error else "ok"))
    if any(committed(call.name, outcome) for _, outcome in meter.tool_calls):
        turn.committed.append(str(output.content))
        await callers.forget_call(turn.input.phone, turn.input.call_id)
    return tool_result(call, str(output.content), error=output.is_error)


async def _run_tools(turn: TurnState, calls: list[ToolUse]) -> list[dict]:
    """The calls' results in order; the tools run at once, each in a context holding the caller's turn."""
    meters, tasks = [], []
    for call in calls:
        meter = TurnMeter()
        context = contextvars.copy_context()
        context.run(current_turn.set, dataclasses.replace(turn.context, meter=meter))
        meters.append(meter)
        tasks.append(asyncio.create_task(_run_tool(turn, call, meter), context=context))
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
        for meter in meters:
            turn.context.meter.tool_calls.extend(meter.tool_calls)


def _guardrail_ending(turn: TurnState, said_before: int) -> TextDelta | None:
    """After a guardrail stopped the model: what it held back is dropped, and unless the call said a
    whole sentence (the guardrail's own message), the caller hears FINTALK_GUARDRAIL_REFUSAL."""
    meter, speaker = turn.context.meter, turn.speaker
    meter.guardrail = meter.guardrail or meter.stop_reason
    logger.warning("guardrail intervened", extra={"request_id": turn.context.request_id,
                                                  "model": turn.request["modelId"], "guardrail": meter.guardrail})
    speaker.filter = SpeechFilter()
    said = "".join(speaker.spoken[said_before:]).rstrip()
    if turn.answer_tool is not None or said[-1:] in (".", "!", "?"):
        return None
    speaker.separate = True
    return speaker.say(settings.FINTALK_GUARDRAIL_REFUSAL)


def _answer(turn: TurnState, calls: list[ToolUse]) -> list[dict]:
    """Read the model's calls of the answer tool: the answer is kept (`turn.structured`) when it
    fits the schema or has had its retry; else each call gets the error result to try again with."""
    turn.structured_attempts += 1
    error = turn.answer_tool.error(calls[0].input)
    if error and turn.structured_attempts < MAX_STRUCTURED_ATTEMPTS:
        return [tool_result(call, f"That does not match the schema: {error}. Call the tool again.", error=True)
                for call in calls]
    turn.structured = StructuredAnswer(json.dumps(calls[0].input, ensure_ascii=False), error)
    return []


async def _outbound(turn_input: TurnInput):
    """The bank's outbound request a Vapi outbound call is about (one query), or None: unknown, or the
    database is unreachable (the call goes on as an ordinary one)."""
    from django.db import DatabaseError

    from outbound.selectors import outbound_context

    try:
        return await sync_to_async(outbound_context)(turn_input.outbound_request)
    except DatabaseError as exc:
        logger.warning("outbound request not found: database unavailable",
                       extra={"request_id": turn_input.request_id, "error": type(exc).__name__})
        return None


async def run_turn(turn_input: TurnInput) -> AsyncIterator[TurnEvent]:
    outbound = await _outbound(turn_input) if turn_input.outbound_request is not None else None
    turn = TurnState(turn_input, await callers.lookup(turn_input.phone, turn_input.call_id, turn_input.verstat),
                     outbound)
    stream = model_stream()
    first_stream = _first_stream(turn, stream)
    speaker = turn.speaker
    filler = turn_input.tool_filler if turn.answer_tool is None else None
    try:
        for round_number in range(MAX_ROUNDS + 1):
            if round_number == MAX_ROUNDS:
                logger.warning("turn stopped after %d tool rounds", MAX_ROUNDS,
                               extra={"request_id": turn.context.request_id})
                if delta := speaker.say(TOO_MANY_ROUNDS):
                    yield delta
                break
            request = turn.next_request(first=round_number == 0)
            text: list[str] = []
            calls: list[ToolUse] = []
            said_before = len(speaker.spoken)
            async for event in _call_model(turn, request, first_stream if round_number == 0 else stream, text):
                if turn.answering:
                    yield ModelAnswering(turn.answering)
                    turn.answering = None
                if type(event) is TextDelta:
                    yield event
                else:
                    calls.append(event)
            if turn.context.meter.stop_reason in GUARDRAIL_STOPS:
                if delta := _guardrail_ending(turn, said_before):
                    yield delta
                break
            if not calls:
                break
            client_calls = [call for call in calls if call.name in turn.client_tools]
            if client_calls:
                for call in client_calls:
                    turn.client_calls.append(ClientToolCall(call.id, call.name, json.dumps(call.input, ensure_ascii=False)))
                    await turn.handed_over(turn.client_calls[-1])
                    yield turn.client_calls[-1]
                break
            answers = [call for call in calls if turn.answer_tool and call.name == turn.answer_tool.metadata.name]
            results = _answer(turn, answers) if answers else []
            if turn.structured is not None:
                break
            tool_calls = [call for call in calls if call not in answers]
            for call in tool_calls:
                yield ToolStarted(call.name)
            if filler and (delta := speaker.say(filler)):
                filler = None
                yield delta
            speaker.separate = True
            results += await _run_tools(turn, tool_calls)
            turn.request["messages"] = [*turn.request["messages"],
                                        assistant_message("".join(text), calls),
                                        {"role": "user", "content": results}]
            turn.scrub()
    except (asyncio.CancelledError, GeneratorExit):
        raise
    except Exception as exc:
        error = to_fintalk_error(exc)
        logger.warning("agent turn failed", extra={"error": type(exc).__name__, "status": error.status_code,
                                                   "request_id": turn.context.request_id},
                       exc_info=error.status_code >= 500 and type(error).__name__ == "FintalkError")
        if not turn.committed:
            raise error from exc
        # The change was made: say so, whatever failed after it, and end the turn normally.
        for text in [*turn.committed, AFTER_COMMITTED]:
            speaker.separate = True
            if delta := speaker.say(text):
                yield delta
        turn.context.meter.stop_reason = "end_turn"
        yield turn.end()
        return
    if turn.answer_tool is not None:
        yield turn.structured or StructuredAnswer("{}", "The model gave no answer in the requested format.")
    else:
        if delta := speaker.say(speaker.filter.flush()):
            yield delta
        if not turn.client_calls and not "".join(speaker.spoken).strip():
            yield speaker.say(EMPTY_REPLY)
    yield turn.end()
