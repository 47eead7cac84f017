"""Production Bedrock through the real server: cached prompts, failover before the first word,
guardrails, latency-optimized inference and cost, against the stand-in (tests/bedrock_standin.py).

One server for the module, offering several model ids so that each failover test fails its own
primary (a failed model cools down for a minute, as in production) and the others stay healthy.
Why ~350 lines: that one server (and its stand-in's scripted failures) serves every test here.
"""
import json
import re
import time

import httpx
import openai
import pytest

from tests.bedrock_standin import Reply
from tests.conftest import API_KEY, LiveServer
from tests.support.wait import wait_until

DEFAULT = "amazon.nova-lite-v1:0"
FALLBACK = "amazon.nova-pro-v1:0"
CLAUDE = "anthropic.claude-3-5-haiku-20241022-v1:0"
HTTP_THROTTLED = "amazon.nova-micro-v1:0"
STREAM_THROTTLED = "us.amazon.nova-micro-v1:0"
SILENT = "eu.amazon.nova-lite-v1:0"
MID_STREAM = "us.amazon.nova-lite-v1:0"
REFUSAL = "I'm sorry, I can't help with that."
CACHE_POINT = {"cachePoint": {"type": "default"}}
GUARDRAIL_TRACE = {"guardrail": {"actionReason": "Guardrail blocked.", "outputAssessments": {"0": [{"topicPolicy": {
    "topics": [{"name": "Investment advice", "type": "DENY", "action": "BLOCKED"}]}}]}}}


def vapi(call_id: str) -> dict:
    return {"call": {"id": call_id, "customer": {"number": "+15550100001"}}, "customer": {"number": "+15550100001"}}


@pytest.fixture(scope="module")
def prod_server(tmp_path_factory, standin_server):
    server = LiveServer(tmp_path_factory.mktemp("prod-bedrock"), {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url,
        "FINTALK_LLM": "bedrock",
        "BEDROCK_MODEL_IDS": ",".join([DEFAULT, CLAUDE, HTTP_THROTTLED, STREAM_THROTTLED, SILENT, MID_STREAM]),
        "BEDROCK_FALLBACK_MODEL_IDS": FALLBACK,
        "BEDROCK_FAILOVER_COOLDOWN_SECONDS": "60",
        "BEDROCK_FAILOVER_TIMEOUT": "0.6",
        "BEDROCK_LATENCY_OPTIMIZED_MODEL_IDS": CLAUDE,
        "BEDROCK_GUARDRAIL_ID": "gr-fintalk",
        "BEDROCK_GUARDRAIL_VERSION": "3",
    }).start()
    yield server
    server.stop()


@pytest.fixture
def prod(prod_server):
    return prod_server.openai()


@pytest.fixture
def prod_http(prod_server):
    with prod_server.http() as c:
        yield c


def sse(http, body) -> tuple[list[str], list[dict]]:
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200, response.read()
        lines = [line for line in response.iter_lines() if line]
    return lines, [json.loads(line[6:]) for line in lines if line.startswith("data: {")]


def spoken(events) -> str:
    return "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices"))


def metric(http, name: str, **labels) -> float:
    text = http.get("/metrics").text
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    for line in text.splitlines():
        if line.startswith(name + "{") and wanted in line or line.startswith(name + " ") and not labels:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def request_lines(server) -> list[dict]:
    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message") == "request"]


# --- Prompt caching -------------------------------------------------------------------------------

def test_second_turn_of_a_call_reads_the_instructions_from_the_cache(prod, prod_server, standin):
    standin.caching = True
    standin.script(Reply(text="Hello, how can I help?"), Reply(text="Your card is active."),
                   Reply(text="Anything else?"))
    first = [{"role": "user", "content": "Hi"}]
    chunks = list(prod.chat.completions.create(model=DEFAULT, messages=first, stream=True,
                                               stream_options={"include_usage": True}, extra_body=vapi("call-cache")))
    usage = chunks[-1].usage
    assert usage.prompt_tokens_details.cached_tokens == 0
    written = standin.usage(Reply(), standin.requests[0].body)  # what the stand-in now reads back
    second = [*first, {"role": "assistant", "content": "Hello, how can I help?"},
              {"role": "user", "content": "Is my card active?"}]
    completion = prod.chat.completions.create(model=DEFAULT, messages=second, stream=False,
                                              extra_body=vapi("call-cache"))
    cached = completion.usage.prompt_tokens_details.cached_tokens
    assert cached > 500 and cached == written["cacheReadInputTokens"]  # the bank's instructions
    body = standin.requests[1].body
    assert body["system"][-1] == CACHE_POINT and CACHE_POINT not in body["toolConfig"]["tools"]  # Nova: no tools
    assert completion.usage.prompt_tokens > cached and completion.model == DEFAULT
    assert body["requestMetadata"]["fintalk_call_id"] == "call-cache"
    standin.script(Reply(text="Yes."), Reply(text="Yes."))
    details = [prod.responses.create(model=DEFAULT, input="Is my card active?").usage.input_tokens_details
               for _ in range(2)]  # no caller known: other instructions, written once, then read
    assert details[0].cached_tokens == 0 and details[0].cache_write_tokens > 500
    assert details[1].cached_tokens == details[0].cache_write_tokens
    line = wait_until(lambda: next((line for line in request_lines(prod_server)
                                    if line.get("cache_read_tokens") == cached), None), 5)
    assert line["cost_usd"] > 0 and line["model"] == DEFAULT  # a number: a string of digits would be masked


def test_a_long_call_caches_its_history_too(prod, standin):
    standin.caching = True
    history = []
    for index in range(8):
        history += [{"role": "user", "content": f"Question {index}: " + "tell me about your savings accounts " * 8},
                    {"role": "assistant", "content": f"Answer {index}: " + "our savings accounts pay interest " * 8}]
    standin.script(Reply(text="Sure."), Reply(text="Of course."))
    third = [*history, {"role": "user", "content": "And the fees?"}]
    prod.chat.completions.create(model=DEFAULT, messages=third, stream=False, extra_body=vapi("call-long"))
    body = standin.requests[0].body
    assert body["messages"][-2]["content"][-1] == CACHE_POINT  # after the stable history, before the question
    fourth = [*third, {"role": "assistant", "content": "Sure."}, {"role": "user", "content": "Thanks."}]
    usage = prod.chat.completions.create(model=DEFAULT, messages=fourth, stream=False,
                                         extra_body=vapi("call-long")).usage
    system_only = standin.usage(Reply(), {**body, "messages": body["messages"][:1]})["cacheReadInputTokens"]
    assert usage.prompt_tokens_details.cached_tokens > system_only + 300  # instructions and history


def test_claude_caches_its_tools_and_asks_for_latency_optimized_inference(prod, prod_server, standin):
    standin.caching = True
    standin.script(Reply(text="Hello."))
    prod.chat.completions.create(model=CLAUDE, messages=[{"role": "user", "content": "Hi"}], stream=False)
    body = standin.requests[0].body
    assert body["toolConfig"]["tools"][-1] == CACHE_POINT and body["system"][-1] == CACHE_POINT
    assert body["performanceConfig"] == {"latency": "optimized"}
    wait_until(lambda: re.search(r'"latency-optimized inference honoured".*"served_latency": "optimized"',
                                 prod_server.logs()), 5)


# --- Failover before the first word ---------------------------------------------------------------

def test_a_throttled_model_fails_over_and_cools_down_for_the_next_calls(prod, prod_http, prod_server, standin):
    standin.throttle(HTTP_THROTTLED)
    standin.script(*[Reply(text="Answered by the fallback.")] * 6)
    failovers = metric(prod_http, "fintalk_bedrock_failovers_total", model=HTTP_THROTTLED, reason="throttled")
    chunks = list(prod.chat.completions.create(model=HTTP_THROTTLED, messages=[{"role": "user", "content": "Hi"}],
                                               stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Answered by the fallback."
    assert chunks[-1].model == FALLBACK and chunks[-2].choices[0].finish_reason == "stop"
    assert {chunk.model for chunk in chunks} == {FALLBACK}  # the role and content chunks too
    for _ in range(5):
        completion = prod.chat.completions.create(model=HTTP_THROTTLED, stream=False,
                                                  messages=[{"role": "user", "content": "Hi"}])
        assert completion.model == FALLBACK and completion.choices[0].message.content == "Answered by the fallback."
    assert len(standin.calls_to(HTTP_THROTTLED)) == 1  # one attempt (no retry), then the cooldown skips it
    assert len(standin.calls_to(FALLBACK)) == 6
    assert metric(prod_http, "fintalk_bedrock_failovers_total", model=HTTP_THROTTLED, reason="throttled") \
        == failovers + 1
    assert metric(prod_http, "fintalk_bedrock_failovers_total", model=HTTP_THROTTLED, reason="cooling") >= 5
    wait_until(lambda: len([line for line in request_lines(prod_server) if line["model"] == FALLBACK]) >= 6, 5)


def test_a_throttle_in_the_stream_before_any_text_fails_over_too(prod, standin):
    standin.script(Reply(text="never said", stream_error_after=0, stream_error_type="throttlingException"),
                   Reply(text="From the fallback."))
    completion = prod.chat.completions.create(model=STREAM_THROTTLED, messages=[{"role": "user", "content": "Hi"}],
                                              stream=False)
    assert completion.choices[0].message.content == "From the fallback." and completion.model == FALLBACK
    assert [record.model for record in standin.requests] == [STREAM_THROTTLED, FALLBACK]


def test_a_silent_model_is_left_after_the_failover_timeout(prod_http, standin):
    standin.script(Reply(text="Too late.", first_token_delay=5), Reply(text="On time."))
    started = time.monotonic()
    _, events = sse(prod_http, {"model": SILENT, "messages": [{"role": "user", "content": "Hi"}]})
    assert spoken(events) == "On time." and events[-1]["model"] == FALLBACK
    assert time.monotonic() - started < 3
    wait_until(lambda: [r.outcome for r in standin.calls_to(SILENT)] == ["client_disconnected"], 5)


def test_a_throttle_after_the_first_word_is_an_apology_not_a_switch(prod_http, standin):
    standin.script(Reply(text="Let me check that for you", stream_error_after=2, stream_error_type="throttlingException"))
    lines, events = sse(prod_http, {"model": MID_STREAM, "messages": [{"role": "user", "content": "Hi"}],
                                    **vapi("call-mid")})
    assert spoken(events) == "Let me I'm sorry, something went wrong on my side. Could you say that again?"
    assert events[-1]["choices"][0]["finish_reason"] == "stop" and lines[-1] == "data: [DONE]"
    standin.script(Reply(text="Let me check that for you", stream_error_after=2, stream_error_type="throttlingException"))
    lines, events = sse(prod_http, {"model": MID_STREAM, "messages": [{"role": "user", "content": "Hi"}]})
    assert events[-1]["error"]["code"] == "rate_limit_exceeded" and lines[-1] == "data: [DONE]"
    assert standin.calls_to(FALLBACK) == []


# --- Guardrails -----------------------------------------------------------------------------------

def test_a_guardrail_cut_ends_in_a_whole_refusal_and_content_filter(prod_http, prod_server, standin):
    before = metric(prod_http, "fintalk_bedrock_guardrail_interventions_total", model=DEFAULT)
    standin.script(Reply(text="You should put your savings into", stop_reason="guardrail_intervened",
                         trace=GUARDRAIL_TRACE))
    lines, events = sse(prod_http, {"model": DEFAULT, "messages": [{"role": "user", "content": "Invest for me"}],
                                    **vapi("call-guard")})
    assert spoken(events) == "You should put your savings into " + REFUSAL
    assert events[-1]["choices"][0]["finish_reason"] == "content_filter" and lines[-1] == "data: [DONE]"
    config = standin.requests[0].body["guardrailConfig"]
    assert config == {"guardrailIdentifier": "gr-fintalk", "guardrailVersion": "3", "streamProcessingMode": "async",
                      "trace": "enabled"}
    assert metric(prod_http, "fintalk_bedrock_guardrail_interventions_total", model=DEFAULT) == before + 1
    wait_until(lambda: re.search(r'"guardrail intervened".*"guardrail": "Guardrail blocked."', prod_server.logs()), 5)
    wait_until(lambda: any(line.get("guardrail") is True for line in request_lines(prod_server)), 5)


def test_the_guardrails_own_message_stands_and_silence_gets_the_refusal(prod, standin):
    standin.script(Reply(text="Sorry, I can't give investment advice.", stop_reason="guardrail_intervened"),
                   Reply(text="", stop_reason="guardrail_intervened"))
    for expected in ("Sorry, I can't give investment advice.", REFUSAL):
        completion = prod.chat.completions.create(model=DEFAULT, stream=False,
                                                  messages=[{"role": "user", "content": "Which stock?"}])
        assert completion.choices[0].message.content == expected
        assert completion.choices[0].finish_reason == "content_filter"


# --- Cooldowns are shared by every worker (Redis) --------------------------------------------------

@pytest.fixture
def redis_url(redis_service):
    """A database of the suite's own redis-server (tests/services.py), empty for this test."""
    redis_service.client(4).flushdb()
    return redis_service.url(4)


def test_two_workers_share_a_cooldown_through_redis(tmp_path_factory, standin_server, standin, redis_url):
    server = LiveServer(tmp_path_factory.mktemp("prod-redis"), {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url, "FINTALK_LLM": "bedrock",
        "BEDROCK_MODEL_IDS": HTTP_THROTTLED, "BEDROCK_FALLBACK_MODEL_IDS": FALLBACK, "FINTALK_CACHE_URL": redis_url,
    }).start(workers=2)
    try:
        standin.throttle(HTTP_THROTTLED)
        for _ in range(8):  # new connections: both workers answer some of them
            with httpx.Client() as fresh:
                client = openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=30,
                                       http_client=fresh)
                assert client.chat.completions.create(model=HTTP_THROTTLED, stream=False,
                                                      messages=[{"role": "user", "content": "Hi"}]).model == FALLBACK
        assert len(standin.calls_to(HTTP_THROTTLED)) == 1
    finally:
        server.stop()


# --- The pieces, without a server ------------------------------------------------------------------

def test_prepare_adds_what_each_family_takes(settings):
    from agent.bedrock import prepare

    settings.BEDROCK_GUARDRAIL_ID = ""
    settings.BEDROCK_LATENCY_OPTIMIZED_MODEL_IDS = []
    request = {"modelId": "meta.llama3-70b-instruct-v1:0", "system": [{"text": "x"}],
               "messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": 9000},
               "toolConfig": {"tools": [{"toolSpec": {"name": "t"}}]}}
    llama = prepare(request)
    assert llama["system"] == [{"text": "x"}] and llama["inferenceConfig"]["maxTokens"] == 2048  # no caching
    claude = prepare({**request, "modelId": "us.anthropic.claude-3-5-haiku-20241022-v1:0"})
    assert claude["toolConfig"]["tools"][-1] == CACHE_POINT and claude["system"][-1] == CACHE_POINT
    assert claude["inferenceConfig"]["maxTokens"] == 8192 and request["inferenceConfig"]["maxTokens"] == 9000
    assert request["system"] == [{"text": "x"}] and len(request["toolConfig"]["tools"]) == 1  # not changed
    settings.BEDROCK_PROMPT_CACHING = "off"
    assert CACHE_POINT not in prepare({**request, "modelId": "amazon.nova-lite-v1:0"})["system"]


def test_history_checkpoint_only_for_a_long_stable_history():
    from agent.converse import cache_points

    short = {"system": [{"text": "rules"}], "messages": [
        {"role": "user", "content": [{"text": "hi"}]}, {"role": "assistant", "content": [{"text": "hello"}]},
        {"role": "user", "content": [{"text": "balance?"}]}]}
    assert all(CACHE_POINT not in m["content"] for m in cache_points(short, tools=False, min_tokens=1000)["messages"])
    long = {**short, "system": [{"text": "rules " * 1000}]}
    tool_round = [*long["messages"], {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "input": {}}}]},
                  {"role": "user", "content": [{"toolResult": {"toolUseId": "t", "content": [{"text": "ok"}]}}]}]
    marked = cache_points({**long, "messages": tool_round}, tools=False, min_tokens=1000)["messages"]
    assert marked[1]["content"][-1] == CACHE_POINT  # before the turn's question, in every round of the turn
    assert sum(CACHE_POINT in m["content"] for m in marked) == 1 and CACHE_POINT not in tool_round[1]["content"]


def test_which_failures_fail_over():
    from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

    from agent.bedrock import failover_reason

    def error(code, status):
        return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "ConverseStream")

    assert failover_reason(error("ThrottlingException", 429)) == "throttled"
    assert failover_reason(error("throttlingException", 200)) == "throttled"  # mid-stream, before any text
    assert failover_reason(error("ModelNotReadyException", 429)) == "unavailable"
    assert failover_reason(error("InternalServerException", 500)) == "unavailable"
    assert failover_reason(error("SomethingNew", 502)) == "unavailable"
    assert failover_reason(TimeoutError()) == "timeout"
    assert failover_reason(ReadTimeoutError(endpoint_url="x")) == "unreachable"
    assert failover_reason(EndpointConnectionError(endpoint_url="x")) == "unreachable"
    for code, status in (("ValidationException", 400), ("AccessDeniedException", 403),
                         ("ResourceNotFoundException", 404)):
        assert failover_reason(error(code, status)) is None  # another model would meet it too


def test_cost_and_request_metadata():
    from decimal import Decimal

    from agent.converse import request_metadata
    from agent.models import turn_cost

    # 1000 x 0.80 + 100 x 4 + 2000 x 0.08 (read) + 500 x 1 (write), per million
    assert turn_cost("us.anthropic.claude-3-5-haiku-20241022-v1:0", 1000, 100, 2000, 500) == Decimal("0.00186")
    assert turn_cost("amazon.nova-lite-v1:0", 1_000_000, 0) == Decimal("0.06")
    assert turn_cost("fintalk-demo", 10, 10) is None and turn_cost("meta.llama3-70b", 10, 10) is None
    assert request_metadata("call<1>é", "req-1") == {"fintalk_request_id": "req-1", "fintalk_call_id": "call1"}
    assert request_metadata(None, "r" * 300) == {"fintalk_request_id": "r" * 256}
