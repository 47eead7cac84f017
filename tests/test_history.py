"""History that fits: the most recent messages under FINTALK_MAX_INPUT_TOKENS, never a split tool call."""
import json

import openai
import pytest

from agent.converse import _message_tokens, estimate_tokens, trim
from core.exceptions import ContextLengthExceeded
from tests.bedrock_standin import Reply, count_tokens


def long_call(turns: int) -> list[dict]:
    """An OpenAI history of `turns` exchanges; every third one a tool call with its result."""
    messages = [{"role": "system", "content": "You are the bank's assistant."}]
    for turn in range(turns):
        messages.append({"role": "user", "content": f"Question number {turn}: what is the rate of loan {turn}?"})
        if turn % 3 == 0:
            call = f"call_{turn}"
            messages.append({"role": "assistant", "content": None, "tool_calls": [
                {"id": call, "type": "function", "function": {"name": "lookup", "arguments": json.dumps({"n": turn})}}]})
            messages.append({"role": "tool", "tool_call_id": call, "content": f"Loan {turn} is at 5.{turn % 10} percent."})
        messages.append({"role": "assistant", "content": f"Loan {turn} is at five point {turn % 10} percent."})
    return messages


def tokens(request_body: dict) -> int:
    system = sum(estimate_tokens(block.get("text", "")) for block in request_body["system"])  # and cachePoints
    return system + sum(_message_tokens(message) for message in request_body["messages"])


def test_a_3000_message_call_is_trimmed_to_the_budget(client, standin, server):
    messages = long_call(1151)[:-1]  # ends with the assistant's answer removed, so that we can ask again
    messages.append({"role": "user", "content": "And the latest question?"})
    assert len(messages) > 3000
    client.chat.completions.create(model="amazon.nova-lite-v1:0", messages=messages, stream=False,
                                   tools=[{"type": "function", "function": {"name": "lookup", "parameters": {}}}])
    sent = standin.requests[0].body
    assert tokens(sent) <= 12_000  # FINTALK_MAX_INPUT_TOKENS' default
    assert sent["messages"][-1]["content"][-1] == {"text": "And the latest question?"}
    first = sent["messages"][0]
    assert first["role"] == "user" and not any("toolResult" in block for block in first["content"])
    seen_calls = set()
    for message in sent["messages"]:  # every tool result answers a call that was sent before it
        for block in message["content"]:
            if "toolUse" in block:
                seen_calls.add(block["toolUse"]["toolUseId"])
            if "toolResult" in block:
                assert block["toolResult"]["toolUseId"] in seen_calls
    line = next(json.loads(line) for line in reversed(server.logs().splitlines())
                if '"logger": "fintalk.request"' in line and '"chat-completions"' in line)
    assert line["history_trimmed"] > 1000 and len(sent["messages"]) < 1000  # Converse messages, tool results merged


def test_a_latest_message_over_the_budget_is_a_clear_400(client, standin):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "word " * 20000}])
    assert info.value.code == "context_length_exceeded" and info.value.body["param"] == "messages"
    assert not standin.requests  # Bedrock was never asked


def test_the_estimate_is_close_to_what_bedrock_reports(client, standin):
    """The stand-in counts input tokens independently (words, digit groups, punctuation), as a
    model's tokenizer would; the trimming estimate (a token per four characters) stays within 35%."""
    standin.script(Reply(text="Sure.", input_tokens=None))
    messages = long_call(30)
    messages.append({"role": "user", "content": "Which of those loans is cheapest for a car?"})
    completion = client.chat.completions.create(
        model="amazon.nova-lite-v1:0", messages=messages, stream=False,
        tools=[{"type": "function", "function": {"name": "lookup", "parameters": {}}}])
    sent = standin.requests[0].body
    reported = completion.usage.prompt_tokens
    assert reported == count_tokens(sent)
    tool_specs = estimate_tokens(json.dumps(sent["toolConfig"]["tools"]))
    estimate = tokens(sent) + tool_specs
    assert abs(estimate - reported) / reported < 0.35, (estimate, reported)


def test_trim_never_starts_between_a_tool_call_and_its_result():
    messages = [
        {"role": "user", "content": [{"text": "a" * 400}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "x", "input": {}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t", "content": [{"text": "b" * 40}]}}]},
        {"role": "assistant", "content": [{"text": "c" * 40}]},
        {"role": "user", "content": [{"text": "latest"}]},
    ]
    kept, dropped = trim(messages, [{"text": "sys"}], budget=60)
    assert kept == messages[-1:] and dropped == 4  # the result's own call did not fit: both left out
    kept, dropped = trim(messages, [{"text": "sys"}], budget=1000)
    assert kept == messages and dropped == 0
    with pytest.raises(ContextLengthExceeded):
        trim(messages, [{"text": "s" * 4000}], budget=60)
