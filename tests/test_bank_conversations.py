"""The bank conversation a newcomer tries, through the real server: on the demo model and over Bedrock."""
import json

import pytest

from tests.bedrock_standin import Reply, ToolUse
from tests.support.bank import JANE


def chat(http_client, messages, **extra):
    response = http_client.post("/api/chat/completions", json={"stream": False, "messages": messages, **extra})
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


@pytest.fixture
def demo_http(demo_server, fresh_bank):
    with demo_server.http() as c:
        yield c


def card_status(server, last4):
    return server.sql("SELECT status FROM bank_card WHERE last4 = ?", last4)[0][0]


def audit_events(server):
    return server.sql("SELECT action, masked_phone, card_last4, outcome FROM bank_auditevent")


def test_newcomer_flow_on_the_demo_model(demo_server, demo_http):
    loans = chat(demo_http, [{"role": "user", "content": "What loans do you offer?"}])
    assert all(name in loans for name in ("Everyday Personal Loan", "Fixed Rate Home Loan", "New and Used Car Loan"))

    history = [{"role": "user", "content": f"Block my credit card [phone: {JANE}]"}]
    ask = chat(demo_http, history)
    assert "last four digits" in ask
    history += [{"role": "assistant", "content": ask}, {"role": "user", "content": "4242"}]
    done = chat(demo_http, history)
    assert "now blocked" in done
    assert card_status(demo_server, "4242") == "blocked"
    assert audit_events(demo_server) == [("card_block", "+1******0001", "4242", "blocked")]

    again = chat(demo_http, history)
    assert "already blocked" in again
    assert len(audit_events(demo_server)) == 1


def test_demo_reply_model_name_and_streaming(demo_server, demo_http):
    client = demo_server.openai()
    assert [m.id for m in client.models.list()] == ["fintalk-demo", "fintalk-demo-embedding"]
    chunks = list(client.chat.completions.create(model="fintalk-demo", stream=True,
                                                 messages=[{"role": "user", "content": "Any car loans?"}]))
    assert {c.model for c in chunks} == {"fintalk-demo"}
    content = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) > 10 and "Car Loan" in "".join(content)


def test_vapi_shaped_body_identifies_the_caller_without_a_tag(demo_server, demo_http):
    client = demo_server.openai("/api")
    vapi = {"call": {"id": "c1", "customer": {"number": JANE}}, "customer": {"number": JANE}, "metadata": {}}
    history = [{"role": "assistant", "content": "Hello, Fintalk Bank."},
               {"role": "user", "content": "I lost my credit card"}]
    ask = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="fintalk-demo", messages=history, stream=True, extra_body=vapi) if c.choices)
    assert "last four digits" in ask
    history += [{"role": "assistant", "content": ask}, {"role": "user", "content": "four two four two"}]
    done = client.chat.completions.create(model="fintalk-demo", messages=history, stream=False, extra_body=vapi)
    assert "now blocked" in done.choices[0].message.content
    assert card_status(demo_server, "4242") == "blocked"


def test_without_a_phone_the_agent_asks_and_blocks_nothing(demo_server, demo_http):
    history = [{"role": "user", "content": "Block my credit card"},
               {"role": "assistant", "content": "What are the last four digits of the card?"},
               {"role": "user", "content": "4242"}]
    assert "can't identify you" in chat(demo_http, history)
    assert card_status(demo_server, "4242") == "active" and audit_events(demo_server) == []


def test_native_agent_endpoint(demo_server, demo_http):
    response = demo_http.post("/api/agent/query/", json={"query": "Which cards do I have?", "phone_number": JANE})
    body = response.json()
    assert response.status_code == 200 and body["response"] == "You have a Visa card, which is active."
    assert body["tool_calls"] == [{"tool": "list_credit_cards", "outcome": "ok"}] and body["model"] == "fintalk-demo"
    bad = demo_http.post("/api/agent/query", json={"query": "hi", "phone_number": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "phone_number"


def test_block_over_bedrock_tool_use(server, fresh_bank, client, standin):
    """Bedrock asks for block_credit_card over the wire; the phone comes from Vapi's customer.number."""
    standin.script(
        Reply(text="<thinking>Block it.</thinking>",
              tool_uses=[ToolUse("block_credit_card", {"card_last4": "4242", "reason": "lost"})]),
        Reply(text="Your Visa card ending in 4242 is now blocked."),
    )
    reply = client.chat.completions.create(
        model="amazon.nova-lite-v1:0", stream=False, extra_body={"customer": {"number": JANE}},
        messages=[{"role": "user", "content": "I lost my card"},
                  {"role": "assistant", "content": "What are the last four digits?"},
                  {"role": "user", "content": "4242"}],
    )
    assert reply.choices[0].message.content.endswith("Your Visa card ending in 4242 is now blocked.")
    assert card_status(server, "4242") == "blocked"
    assert audit_events(server) == [("card_block", "+1******0001", "4242", "blocked")]
    tool_result = json.dumps(standin.requests[-1].body["messages"][-1])
    assert "now blocked" in tool_result and JANE not in json.dumps(standin.requests[-1].body)


def test_model_cannot_choose_whose_card_it_blocks(server, fresh_bank, client, standin):
    """A phone the model puts into the tool call is not a parameter: nothing is blocked for anyone."""
    standin.script(
        Reply(tool_uses=[ToolUse("block_credit_card", {"card_last4": "5454", "reason": "lost",
                                                       "phone": "+15550100002"})]),
        Reply(text="Sorry, I could not do that."),
    )
    client.chat.completions.create(
        model="amazon.nova-lite-v1:0", stream=False, extra_body={"customer": {"number": JANE}},
        messages=[{"role": "user", "content": "Block card 5454"}])
    assert card_status(server, "5454") == "active" and audit_events(server) == []


def test_demo_structured_output_and_embeddings(demo_server, demo_http):
    client = demo_server.openai()
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    reply = client.chat.completions.create(
        model="fintalk-demo", stream=False, messages=[{"role": "user", "content": "What loans do you have?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}})
    answer = json.loads(reply.choices[0].message.content)
    assert "Fixed Rate Home Loan" in answer["answer"]  # the bank tool ran, then the answer tool
    first = client.embeddings.create(model="fintalk-demo-embedding", input="hello", dimensions=256).data[0].embedding
    again = client.embeddings.create(model="fintalk-demo-embedding", input="hello", dimensions=256).data[0].embedding
    assert len(first) == 256 and first == again
    transfer = {"type": "function", "function": {"name": "transferCall", "parameters": {"type": "object"}}}
    handoff = client.chat.completions.create(model="fintalk-demo", stream=False, tools=[transfer],
                                             messages=[{"role": "user", "content": "Let me talk to a person"}])
    assert handoff.choices[0].message.tool_calls[0].function.name == "transferCall"
    assert handoff.choices[0].finish_reason == "tool_calls"
