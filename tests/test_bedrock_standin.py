"""The stand-in's frames are real AWS event-stream messages: botocore's own parser accepts them."""
import asyncio

import boto3
import pytest
from aiobotocore.session import get_session
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError

from tests.bedrock_standin import Reply, ToolUse, event, exception


def test_frames_parse_with_botocore_and_crcs_are_checked():
    buffer = EventStreamBuffer()
    buffer.add_data(event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}}))
    buffer.add_data(exception("throttlingException", "slow down"))
    first, second = list(buffer)
    assert first.headers[":event-type"] == "contentBlockDelta" and first.payload == b'{"contentBlockIndex": 0, "delta": {"text": "Hi"}}'
    assert second.headers[":message-type"] == "exception"
    corrupted = bytearray(event("messageStop", {"stopReason": "end_turn"}))
    corrupted[-1] ^= 0xFF
    bad = EventStreamBuffer()
    bad.add_data(bytes(corrupted))
    with pytest.raises(Exception, match="(?i)checksum|crc"):
        list(bad)


def test_boto3_converse_stream_and_converse(standin_server, standin):
    client = boto3.client("bedrock-runtime", endpoint_url=standin_server.url, region_name="us-east-1")
    standin.script(Reply(text="a b", tool_uses=[ToolUse("get_loan_products", {"kind": "home"}, id="t1")]))
    events = list(client.converse_stream(modelId="m", messages=[{"role": "user", "content": [{"text": "x"}]}])["stream"])
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "messageStart" and kinds[-2:] == ["messageStop", "metadata"]
    assert events[-2]["messageStop"]["stopReason"] == "tool_use"
    fragments = "".join(e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events
                        if "contentBlockDelta" in e and "toolUse" in e["contentBlockDelta"]["delta"])
    assert fragments == '{"kind": "home"}'
    standin.script(Reply(text="whole answer"))
    response = client.converse(modelId="m", messages=[{"role": "user", "content": [{"text": "x"}]}])
    assert response["output"]["message"]["content"][0]["text"] == "whole answer"
    assert response["usage"]["inputTokens"] == 25


def test_errors_before_and_during_the_stream(standin_server, standin):
    client = boto3.client("bedrock-runtime", endpoint_url=standin_server.url, region_name="us-east-1",
                          config=boto3.session.Config(retries={"total_max_attempts": 1}))
    standin.script(Reply(error_status=429))
    with pytest.raises(ClientError) as info:
        client.converse_stream(modelId="m", messages=[{"role": "user", "content": [{"text": "x"}]}])
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    standin.script(Reply(text="a b c", stream_error_after=1, stream_error_type="throttlingException"))
    stream = client.converse_stream(modelId="m", messages=[{"role": "user", "content": [{"text": "x"}]}])["stream"]
    with pytest.raises(ClientError) as info:
        list(stream)
    assert info.value.response["Error"]["Code"] == "throttlingException"


def test_aiobotocore_reads_the_stream(standin_server, standin):
    async def read():
        session = get_session()
        async with session.create_client("bedrock-runtime", region_name="us-east-1",
                                         endpoint_url=standin_server.url) as client:
            response = await client.converse_stream(modelId="m", messages=[{"role": "user", "content": [{"text": "x"}]}])
            return [e async for e in response["stream"]]

    standin.script(Reply(text="one two"))
    events = asyncio.run(read())
    assert "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e) == "one two"


CACHE_POINT = {"cachePoint": {"type": "default"}}


def _converse_stream(client, **request):
    events = list(client.converse_stream(**request)["stream"])
    return events[-1]["metadata"], events[-2]["messageStop"]["stopReason"]


def test_cache_points_write_then_read_and_input_tokens_leave_them_out(standin_server, standin):
    client = boto3.client("bedrock-runtime", endpoint_url=standin_server.url, region_name="us-east-1")
    standin.caching = True
    system = [{"text": "You are Fin. " * 50}, CACHE_POINT]
    first = [{"role": "user", "content": [{"text": "hello there"}]}]
    metadata, _ = _converse_stream(client, modelId="m", system=system, messages=first)
    usage = metadata["usage"]
    assert usage["cacheWriteInputTokens"] == 200 and usage["cacheReadInputTokens"] == 0  # 4 tokens x 50
    assert usage["inputTokens"] == 2
    history = [*first, {"role": "assistant", "content": [{"text": "Hi, how can I help?"}, CACHE_POINT]},
               {"role": "user", "content": [{"text": "my balance"}]}]
    usage = _converse_stream(client, modelId="m", system=system, messages=history)[0]["usage"]
    assert usage["cacheReadInputTokens"] == 200 and usage["cacheWriteInputTokens"] == 2 + 7
    assert usage["inputTokens"] == 2
    history[1]["content"] = history[1]["content"][:1]  # the next turn moves the checkpoint on
    history += [{"role": "assistant", "content": [{"text": "It is 10 dollars."}, CACHE_POINT]},
                {"role": "user", "content": [{"text": "thanks"}]}]
    usage = _converse_stream(client, modelId="m", system=system, messages=history)[0]["usage"]
    assert usage["cacheReadInputTokens"] == 209 and usage["cacheWriteInputTokens"] == 2 + 5
    standin.caching = False
    usage = _converse_stream(client, modelId="m", system=system, messages=history)[0]["usage"]
    assert "cacheReadInputTokens" not in usage  # off: checkpoints are ignored, as below a model's minimum


def test_a_throttled_model_answers_429_until_reset_and_others_answer(standin_server, standin):
    client = boto3.client("bedrock-runtime", endpoint_url=standin_server.url, region_name="us-east-1",
                          config=boto3.session.Config(retries={"total_max_attempts": 1}))
    standin.throttle("amazon.nova-micro-v1:0")
    standin.script(Reply(text="from the fallback"))
    hi = [{"role": "user", "content": [{"text": "x"}]}]
    with pytest.raises(ClientError) as info:
        client.converse_stream(modelId="amazon.nova-micro-v1:0", messages=hi)
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    events = list(client.converse_stream(modelId="amazon.nova-pro-v1:0", messages=hi)["stream"])
    assert events[1]["contentBlockDelta"]["delta"]["text"] == "from "  # the scripted reply was kept for it
    assert [r.outcome for r in standin.calls_to("amazon.nova-micro-v1:0")] == ["throttled"]
    assert len(standin.calls_to("amazon.nova-pro-v1:0")) == 1


def test_guardrail_intervention_and_performance_echo(standin_server, standin):
    client = boto3.client("bedrock-runtime", endpoint_url=standin_server.url, region_name="us-east-1")
    trace = {"guardrail": {"actionReason": "Guardrail blocked.", "outputAssessments": {"0": [{"topicPolicy": {
        "topics": [{"name": "Investment advice", "type": "DENY", "action": "BLOCKED"}]}}]}}}
    standin.script(Reply(text="You should buy", stop_reason="guardrail_intervened", trace=trace))
    metadata, stop = _converse_stream(client, modelId="m", messages=[{"role": "user", "content": [{"text": "x"}]}],
                                      performanceConfig={"latency": "optimized"})
    assert stop == "guardrail_intervened" and metadata["trace"]["guardrail"]["actionReason"] == "Guardrail blocked."
    assert metadata["performanceConfig"] == {"latency": "optimized"}
