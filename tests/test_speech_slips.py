"""What the caller hears has no double stop: the default FINTALK_HUMAN_CONTACT ends in "8 p.m.", and
the sentence that says it used to add its own stop ("8 p.m.."). Through the real server."""


def test_how_to_reach_a_person_ends_with_one_stop(demo_server):
    with demo_server.http() as http:
        reply = http.post("/api/chat/completions", json={
            "model": "fintalk-demo", "stream": False, "messages": [{"role": "user", "content": "Can I talk to a person?"}],
            "call": {"id": "call-no-transfer", "type": "webCall"}})
    said = reply.json()["choices"][0]["message"]["content"]
    assert "1-800-555-0199" in said and "8 p.m." in said, said
    assert ".." not in said, said
