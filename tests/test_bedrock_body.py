"""agent/bedrock_body.py: the Converse body orjson writes is the one botocore's serializer writes."""
import asyncio
import json
import re

import botocore.session
import pytest
from botocore.serialize import RestJSONSerializer

from agent import bedrock
from agent.bedrock_body import ConverseSerializer, install, unsupported_members
from agent.converse import CACHE_POINT, assistant_message, cache_points, converse_messages, tool_result, ToolUse
from agent.tools import agent_tool_specs
from agent.turn import HistoryMessage

MODEL = botocore.session.get_session().get_service_model("bedrock-runtime")


def a_turns_request(**extra) -> dict:
    """A second-round request as the loop sends it: prompt, history, the agent's tools, a tool round."""
    messages, system = converse_messages("You are Fin. Ünïcode — “quotes”.", "Be brief.",
                                         (HistoryMessage("user", "hi"), HistoryMessage("assistant", "Hello!")),
                                         "What's my balance?")
    call = ToolUse("tooluse_1", "get_account_balances", {"detail": {"nested": [1, 2.5, None, True]}})
    messages += [assistant_message("Let me check.", [call]),
                 {"role": "user", "content": [tool_result(call, "Checking: 1,234.56 dollars.")]}]
    request = {"modelId": "amazon.nova-lite-v1:0", "messages": messages, "system": system,
               "toolConfig": {"tools": agent_tool_specs().specs},
               "inferenceConfig": {"maxTokens": 250, "temperature": 0.2, "topP": 0.9, "stopSequences": ["User:"]},
               "requestMetadata": {"fintalk_request_id": "abc", "fintalk_call_id": "call-1"},
               "guardrailConfig": {"guardrailIdentifier": "gr", "guardrailVersion": "1",
                                   "streamProcessingMode": "async", "trace": "enabled"},
               "performanceConfig": {"latency": "optimized"}, **extra}
    return cache_points(request, tools=True, min_tokens=0)


def serialized(serializer, request: dict) -> dict:
    return serializer.serialize_to_request(request, MODEL.operation_model("ConverseStream"))


@pytest.mark.parametrize("request_", [
    a_turns_request(),
    a_turns_request(inferenceConfig={"maxTokens": 10}),
    {"modelId": "amazon.nova-lite-v1:0", "messages": [{"role": "user", "content": [{"text": "hi"}]}]},
], ids=["a tool round with every option", "no floats", "the smallest"])
def test_the_body_is_botocores_and_the_rest_of_the_request_too(request_):
    ours, botocores = serialized(ConverseSerializer(), request_), serialized(RestJSONSerializer(), request_)
    assert json.loads(ours.pop("body")) == json.loads(botocores.pop("body"))
    assert ours == botocores  # method, URI with the model id, headers (Content-Type), query
    assert CACHE_POINT in json.loads(serialized(ConverseSerializer(), request_)["body"]).get("system", [CACHE_POINT])


@pytest.mark.parametrize("odd", [
    {"messages": [{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": b"\x89PNG"}}}]}]},
    {"inferenceConfig": {"maxTokens": 10, "temperature": float("nan")}},
], ids=["a blob", "a float botocore writes as a string"])
def test_what_orjson_would_write_differently_is_left_to_botocore(odd):
    request_ = {**a_turns_request(), **odd}
    ours, botocores = serialized(ConverseSerializer(), request_), serialized(RestJSONSerializer(), request_)
    assert ours["body"] == botocores["body"]  # byte for byte: botocore wrote both
    assert b"iVBORw" in ours["body"] or b'"NaN"' in ours["body"]


def test_the_operations_input_needs_nothing_but_json_from_the_walk():
    """A botocore upgrade that renames a member or adds a timestamp to Converse fails here."""
    assert unsupported_members(MODEL) == []


def test_the_workers_client_writes_bodies_with_orjson_under_a_fixed_user_agent(settings):
    settings.AWS_REGION = "us-east-1"

    async def built():
        client = await bedrock.client()
        try:
            install(client)  # twice is harmless
            return type(client._serializer), client.meta.config.user_agent
        finally:
            await bedrock.close()

    serializer, user_agent = asyncio.run(built())  # botocore adds the session's extra after it: botocore/<version>
    assert serializer is ConverseSerializer
    # the session's own User-Agent, built once (not twice a request): SDK, Python and platform, then ours
    assert re.fullmatch(r"aiobotocore/[\d.]+ Python/[\d.]+ \S+ fintalk botocore/[\d.]+", user_agent), user_agent
