"""The signed caller contract (api/caller_signature.py) through the real server on the demo model:
other voice stacks name the caller and the call in HMAC-signed headers, and only a good, fresh
signature with the request's own key makes the bank act for that caller. Driven with the `openai`
client's `default_headers`, and in text mode with the real LLM clients of LiveKit Agents
(`livekit-plugins-openai`) and Pipecat (`pipecat-ai`) pointed at Fintalk. The signatures are computed
here by hand, from the documented recipe, not with the server's helper."""
import asyncio
import hashlib
import hmac
import time

import pytest

from api import caller_signature
from tests.conftest import API_KEY

JANE = "+15550100001"
BLOCK = "Please block my card ending 4242, it was stolen"


def headers(caller=JANE, call_id="lk-room-1", key=API_KEY, stamp=None) -> dict:
    stamp = str(int(time.time()) if stamp is None else stamp)
    signature = hmac.new(key.encode(), f"{stamp}.{call_id}.{caller}".encode(), hashlib.sha256).hexdigest()
    return {"X-Fintalk-Caller": caller, "X-Fintalk-Call-Id": call_id, "X-Fintalk-Timestamp": stamp,
            "X-Fintalk-Signature": signature}


def card_status(server) -> str:
    return server.sql("SELECT c.status FROM bank_card c JOIN bank_customer u ON u.id = c.customer_id "
                      "WHERE u.phone = ? AND c.last4 = '4242'", JANE)[0][0]


def block_audits(server) -> list[tuple]:
    return [tuple(row) for row in server.sql("SELECT call_id, masked_phone FROM bank_auditevent WHERE action = 'card_block'")]


def ask(server, extra_headers: dict) -> str:
    client = server.openai("/v1", default_headers=extra_headers)
    reply = client.chat.completions.create(model="fintalk", messages=[{"role": "user", "content": BLOCK}])
    return reply.choices[0].message.content


def test_the_verdicts(settings):
    settings.FINTALK_AUTH, settings.FINTALK_CALLER_SIGNATURE_SECONDS = "enabled", 3600
    now = time.time()
    assert caller_signature.verify({}, API_KEY) == (None, "absent")
    good = headers(stamp=int(now))
    assert caller_signature.verify(good, API_KEY, now=now) == (caller_signature.SignedCaller(JANE, "lk-room-1"), "trusted")
    assert caller_signature.verify(good, "another-key", now=now)[1] == "invalid"
    assert caller_signature.verify({**good, "X-Fintalk-Caller": "+15550100002"}, API_KEY, now=now)[1] == "invalid"
    assert caller_signature.verify({**good, "X-Fintalk-Signature": ""}, API_KEY, now=now)[1] == "unsigned"
    assert caller_signature.verify(good, API_KEY, now=now + 3601)[1] == "stale"
    assert caller_signature.verify(good, API_KEY, now=now - 301)[1] == "future"
    assert caller_signature.verify(good, None, now=now)[1] == "no_key"
    assert caller_signature.sign(API_KEY, JANE, "lk-room-1", int(now)) == good  # the documented recipe


def test_a_signed_caller_is_acted_for_with_the_openai_clients_default_headers(demo_server, fresh_bank):
    ask(demo_server, headers(call_id="openai-call-1"))
    assert card_status(demo_server) == "blocked"
    # The call id keys the call: the block is audited on it (and the phone masked).
    assert block_audits(demo_server) == [("openai-call-1", "+1******0001")]


@pytest.mark.parametrize("case", ["unsigned", "stale", "another key", "tampered number"])
def test_unsigned_or_stale_headers_are_not_trusted(demo_server, fresh_bank, case):
    signed = headers()
    bad = {"unsigned": {k: v for k, v in signed.items() if k != "X-Fintalk-Signature"},
           "stale": headers(stamp=int(time.time()) - 7200),
           "another key": headers(key="sk-someone-else"),
           "tampered number": {**signed, "X-Fintalk-Caller": "+15550100002"}}[case]
    reply = ask(demo_server, bad)
    assert card_status(demo_server) == "active" and block_audits(demo_server) == []
    assert "block" not in reply.lower() or "can't" in reply.lower() or "cannot" in reply.lower()
    assert "caller headers not trusted" in demo_server.logs()


def test_livekit_agents_openai_llm_in_text_mode(demo_server, fresh_bank):
    openai_plugin = pytest.importorskip("livekit.plugins.openai", reason="livekit-plugins-openai is not installed")
    from livekit.agents import llm

    async def talk() -> str:
        model = openai_plugin.LLM(model="fintalk", base_url=demo_server.url + "/v1", api_key=API_KEY,
                                  extra_headers=headers(call_id="livekit-room-7"))
        context = llm.ChatContext()
        context.add_message(role="user", content=BLOCK)
        text = []
        async with model.chat(chat_ctx=context) as stream:
            async for chunk in stream:
                if chunk.delta and chunk.delta.content:
                    text.append(chunk.delta.content)
        await model.aclose()
        return "".join(text)

    reply = asyncio.run(talk())
    assert reply and card_status(demo_server) == "blocked"
    assert block_audits(demo_server) == [("livekit-room-7", "+1******0001")]


def test_pipecat_openai_llm_service_in_text_mode(demo_server, fresh_bank):
    pytest.importorskip("pipecat", reason="pipecat-ai is not installed")
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.services.openai.llm import OpenAILLMService

    async def talk() -> str | None:
        service = OpenAILLMService(api_key=API_KEY, base_url=demo_server.url + "/v1",
                                   settings=OpenAILLMService.Settings(model="fintalk"),
                                   default_headers=headers(call_id="pipecat-call-3"))
        context = LLMContext(messages=[{"role": "user", "content": BLOCK}])
        return await service.run_inference(context, system_instruction="You are the bank's phone agent.")

    reply = asyncio.run(talk())
    assert reply and card_status(demo_server) == "blocked"
    assert block_audits(demo_server) == [("pipecat-call-3", "+1******0001")]
