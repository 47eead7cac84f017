"""The rest of the OpenAI API, through the official client against the real server over the stand-in:
client tools, tool_choice, structured output, the Responses API, legacy completions, embeddings."""
import base64
import json
import struct

import httpx
import openai
import pytest

from tests.bedrock_standin import Reply, ToolUse

MODEL = "amazon.nova-lite-v1:0"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
END_CALL = {"name": "endCall", "description": "End the call.", "parameters": {"type": "object", "properties": {}}}


def tool_specs(request_body):
    return {tool["toolSpec"]["name"]: tool["toolSpec"] for tool in request_body["toolConfig"]["tools"]}


def test_client_tool_round_trip_streaming(client, standin):
    standin.script(Reply(text="Let me look.", tool_uses=[ToolUse("get_weather", {"city": "Paris"}, id="tooluse_w1")]))
    chunks = list(client.chat.completions.create(
        model=MODEL, stream=True, tools=[WEATHER],
        messages=[{"role": "user", "content": "Weather in Paris?"}]))
    offered = tool_specs(standin.requests[-1].body)
    assert {"get_weather", "get_loan_products", "block_credit_card"} <= set(offered)
    assert offered["get_weather"]["inputSchema"]["json"]["required"] == ["city"]
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].id == "tooluse_w1" and calls[0].type == "function" and calls[0].function.name == "get_weather"
    assert json.loads("".join(tc.function.arguments or "" for tc in calls)) == {"city": "Paris"}
    assert all(tc.index == 0 for tc in calls)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Let me look."

    # The client runs the tool and sends the result back: both become proper history for the model.
    standin.script(Reply(text="It is sunny in Paris."))
    reply = client.chat.completions.create(model=MODEL, stream=False, tools=[WEATHER], messages=[
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "tooluse_w1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "tooluse_w1", "content": "Sunny, 24 C"},
    ])
    assert reply.choices[0].message.content == "It is sunny in Paris." and reply.choices[0].finish_reason == "stop"
    messages = standin.requests[-1].body["messages"]
    assert messages[-2]["role"] == "assistant" and messages[-2]["content"][-1]["toolUse"] == {
        "toolUseId": "tooluse_w1", "name": "get_weather", "input": {"city": "Paris"}}
    assert messages[-1]["role"] == "user"
    assert messages[-1]["content"][0]["toolResult"]["toolUseId"] == "tooluse_w1"
    assert "Sunny, 24 C" in json.dumps(messages[-1]["content"][0]["toolResult"]["content"])


def test_client_tool_call_non_streaming(client, standin):
    standin.script(Reply(tool_uses=[ToolUse("get_weather", {"city": "Oslo"}, id="tooluse_w2")]))
    reply = client.chat.completions.create(model=MODEL, stream=False, tools=[WEATHER],
                                           messages=[{"role": "user", "content": "Oslo weather?"}])
    message = reply.choices[0].message
    assert reply.choices[0].finish_reason == "tool_calls" and message.content is None
    assert message.tool_calls[0].id == "tooluse_w2"
    assert json.loads(message.tool_calls[0].function.arguments) == {"city": "Oslo"}


def test_bank_tools_still_run_inline_next_to_client_tools(client, standin):
    standin.script(Reply(tool_uses=[ToolUse("get_loan_products", {"kind": "auto"})]),
                   Reply(text="Car loans start at 4.99 percent."))
    reply = client.chat.completions.create(model=MODEL, stream=False, tools=[WEATHER],
                                           messages=[{"role": "user", "content": "Car loans?"}])
    assert reply.choices[0].message.content == "Car loans start at 4.99 percent."
    assert reply.choices[0].message.tool_calls is None and reply.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("choice,expected", [
    ("auto", {"auto": {}}), ("required", {"any": {}}),
    ({"type": "function", "function": {"name": "get_weather"}}, {"tool": {"name": "get_weather"}}),
])
def test_tool_choice_maps_to_bedrock(client, standin, choice, expected):
    standin.script(Reply(tool_uses=[ToolUse("get_weather", {"city": "Rome"})]))
    client.chat.completions.create(model=MODEL, stream=False, tools=[WEATHER], tool_choice=choice,
                                   parallel_tool_calls=False, messages=[{"role": "user", "content": "Rome?"}])
    assert standin.requests[-1].body["toolConfig"]["toolChoice"] == expected


def test_tool_choice_none_offers_no_tools(client, standin):
    standin.script(Reply(text="Just text."))
    reply = client.chat.completions.create(model=MODEL, stream=False, tools=[WEATHER], tool_choice="none",
                                           messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "Just text." and "toolConfig" not in standin.requests[-1].body


def test_forced_tool_is_forced_only_on_the_first_call(client, standin):
    standin.script(Reply(tool_uses=[ToolUse("get_loan_products", {})]), Reply(text="We have loans."))
    choice = {"type": "function", "function": {"name": "get_weather"}}
    client.chat.completions.create(model=MODEL, stream=False, tools=[WEATHER], tool_choice=choice,
                                   messages=[{"role": "user", "content": "loans?"}])
    first, second = standin.requests[-2:]
    assert first.body["toolConfig"]["toolChoice"] == {"tool": {"name": "get_weather"}}
    assert second.body["toolConfig"]["toolChoice"] == {"auto": {}}


def test_legacy_functions_and_vapi_end_call(http, standin):
    standin.script(Reply(text="Goodbye!", tool_uses=[ToolUse("endCall", {}, id="tooluse_end")]))
    with http.stream("POST", "/api/chat/completions", json={
        "messages": [{"role": "user", "content": "That's all, bye."}], "functions": [END_CALL],
        "call": {"id": "c1"}, "customer": {"number": "+15550100001"}}) as response:
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    assert "endCall" in tool_specs(standin.requests[-1].body)
    calls = [tc for e in events if e["choices"] for tc in e["choices"][0]["delta"].get("tool_calls", [])]
    assert calls[0]["function"]["name"] == "endCall" and calls[0]["id"] == "tooluse_end"
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_function_call_forces_a_legacy_function(client, standin):
    standin.script(Reply(tool_uses=[ToolUse("endCall", {})]))
    client.chat.completions.create(model=MODEL, stream=False, functions=[END_CALL], function_call={"name": "endCall"},
                                   messages=[{"role": "user", "content": "bye"}])
    assert standin.requests[-1].body["toolConfig"]["toolChoice"] == {"tool": {"name": "endCall"}}


@pytest.mark.parametrize("tools,param", [
    ([{"type": "function", "function": {"name": "block_credit_card", "parameters": {"type": "object"}}}],
     "tools[0].function.name"),
    ([WEATHER, WEATHER], "tools[1].function.name"),
    ([{"type": "code_interpreter"}], "tools[0].type"),
    ([{"type": "function", "function": {"name": "bad name!"}}], "tools[0].function.name"),
])
def test_bad_tools_are_400(client, standin, tools, param):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, tools=tools, messages=[{"role": "user", "content": "hi"}])
    assert info.value.body["param"] == param and standin.requests == []


def test_tool_choice_naming_an_unknown_tool_is_400(client, standin):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, tools=[WEATHER], messages=[{"role": "user", "content": "hi"}],
                                       tool_choice={"type": "function", "function": {"name": "nope"}})
    assert info.value.body["param"] == "tool_choice"


def test_json_object_response_format(client, standin):
    standin.script(Reply(tool_uses=[ToolUse("response", {"answer": "yes", "confidence": 0.9})]))
    reply = client.chat.completions.create(model=MODEL, stream=False, response_format={"type": "json_object"},
                                           messages=[{"role": "user", "content": "Answer in JSON"}])
    assert json.loads(reply.choices[0].message.content) == {"answer": "yes", "confidence": 0.9}
    assert reply.choices[0].finish_reason == "stop"
    assert standin.requests[-1].body["toolConfig"]["toolChoice"] == {"any": {}}


SCHEMA = {"type": "object", "properties": {"product": {"type": "string"}, "apr": {"type": "number"}},
          "required": ["product", "apr"], "additionalProperties": False}


def test_strict_json_schema_with_a_bank_tool_in_the_same_turn_streaming(client, standin):
    standin.script(
        Reply(text="<thinking>look it up</thinking>", tool_uses=[ToolUse("get_loan_products", {"kind": "home"})]),
        Reply(tool_uses=[ToolUse("loan_offer", {"product": "Fixed Rate Home Loan"})]),  # misses apr: retried
        Reply(tool_uses=[ToolUse("loan_offer", {"product": "Fixed Rate Home Loan", "apr": 5.49})]),
    )
    chunks = list(client.chat.completions.create(
        model=MODEL, stream=True, messages=[{"role": "user", "content": "Best home loan as JSON"}],
        response_format={"type": "json_schema", "json_schema": {"name": "loan_offer", "schema": SCHEMA, "strict": True}}))
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert json.loads(content) == {"product": "Fixed Rate Home Loan", "apr": 5.49}
    assert all(r.body["toolConfig"]["toolChoice"] == {"any": {}} for r in standin.requests)
    assert "Fixed Rate Home Loan" in json.dumps(standin.requests[1].body["messages"][-1])  # the bank tool ran
    assert "does not match the schema" in json.dumps(standin.requests[2].body["messages"][-1])


def test_strict_schema_never_met_is_an_error(client, standin):
    standin.script(*[Reply(tool_uses=[ToolUse("offer", {"product": "x"})])] * 2)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model=MODEL, stream=False, messages=[{"role": "user", "content": "JSON"}],
                                       response_format={"type": "json_schema", "json_schema": {
                                           "name": "offer", "schema": SCHEMA, "strict": True}})
    assert info.value.body["code"] == "structured_output_failed"


def test_responses_api_non_streaming(v1_client, standin):
    standin.script(Reply(text="We have three loans.", input_tokens=30, output_tokens=5))
    response = v1_client.responses.create(model=MODEL, input="What loans?", instructions="Be brief.")
    assert response.output_text == "We have three loans." and response.status == "completed"
    assert response.id.startswith("resp_") and response.usage.input_tokens == 30
    system = json.dumps(standin.requests[-1].body["system"])
    assert "Be brief." in system


def test_responses_api_streaming_event_sequence(client, standin):
    standin.script(Reply(text="Hello there friend."))
    stream = client.responses.create(model=MODEL, stream=True, input=[
        {"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}])
    events = list(stream)
    types = [event.type for event in events]
    assert types[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert types[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) == 3 and "".join(deltas) == "Hello there friend."
    assert events[-1].response.output_text == "Hello there friend."
    assert [e.sequence_number for e in events] == list(range(len(events)))


@pytest.mark.parametrize("extra,param", [({"previous_response_id": "resp_1"}, "previous_response_id"),
                                         ({"store": True}, "store")])
def test_responses_api_is_stateless(client, standin, extra, param):
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=MODEL, input="hi", **extra)
    assert info.value.body["param"] == param and "stateless" in info.value.body["message"]


def test_responses_api_bad_input_is_400(http):
    response = http.post("/v1/responses", json={"input": [{"type": "function_call_output", "output": "x"}]})
    assert response.status_code == 400 and response.json()["error"]["param"] == "input[0].type"


def test_legacy_completions(client, standin):
    standin.script(Reply(text="Loans are great."), Reply(text="Cards too."))
    completion = client.completions.create(model=MODEL, prompt=["Tell me about loans", "And cards?"], max_tokens=50)
    assert completion.object == "text_completion"
    assert [c.text for c in completion.choices] == ["Loans are great.", "Cards too."]
    assert [c.index for c in completion.choices] == [0, 1] and completion.usage.total_tokens > 0
    standin.script(Reply(text="Streamed text here."))
    chunks = list(client.completions.create(model=MODEL, prompt="Stream it", stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Streamed text here."
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_legacy_completions_bad_input(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model=MODEL, prompt=[1, 2, 3])
    assert info.value.body["param"] == "prompt"
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model=MODEL, prompt="x", echo=True)
    assert info.value.body["param"] == "echo"


def test_embeddings_over_titan(client, v1_client, standin):
    result = client.embeddings.create(model="amazon.titan-embed-text-v2:0", input=["hello world", "bank loans"])
    assert [d.index for d in result.data] == [0, 1] and len(result.data[0].embedding) == 1024
    assert abs(sum(v * v for v in result.data[0].embedding) - 1) < 1e-6
    assert result.usage.prompt_tokens == 4
    invoke = [r for r in standin.requests if r.path.endswith("/invoke")]
    assert invoke[-1].path == "/model/amazon.titan-embed-text-v2:0/invoke"
    # One Titan call per input; they may reach the stand-in in either order.
    assert sorted((r.body for r in invoke[-2:]), key=lambda body: body["inputText"]) == [
        {"inputText": "bank loans", "dimensions": 1024, "normalize": True},
        {"inputText": "hello world", "dimensions": 1024, "normalize": True}]
    small = v1_client.embeddings.create(model="amazon.titan-embed-text-v2:0", input="hello world", dimensions=256)
    assert len(small.data[0].embedding) == 256
    raw = httpx.post(str(client.base_url) + "embeddings", headers={"Authorization": f"Bearer {client.api_key}"},
                     json={"input": "hello world", "encoding_format": "base64"}).json()
    decoded = struct.unpack("<1024f", base64.b64decode(raw["data"][0]["embedding"]))
    assert decoded == pytest.approx(result.data[0].embedding, abs=1e-6)
    assert "amazon.titan-embed-text-v2:0" in [m.id for m in client.models.list()]


def test_embeddings_bad_input(client):
    for kwargs, param in (({"input": "x", "dimensions": 300}, "dimensions"), ({"input": []}, "input"),
                          ({"input": "x", "model": MODEL}, "model")):
        with pytest.raises((openai.BadRequestError, openai.NotFoundError)) as info:
            client.embeddings.create(**{"model": "amazon.titan-embed-text-v2:0", **kwargs})
        assert info.value.body["param"] == param
