"""The log mask hides phone, card and account numbers and one-time codes, and leaves ids whole: a UUID
(a Celery task id, a caller's X-Request-ID) whose groups happen to be all digits is not a phone number."""
import json

import pytest

from core.log_masking import mask_text

TASK_ID = "8c957351-d07d-4004-9104-f5e09a7303e3"  # two all-digit groups: once read as an 8-digit run


@pytest.mark.parametrize(("text", "masked"), [
    (f"task {TASK_ID} done", f"task {TASK_ID} done"),
    (TASK_ID.upper(), TASK_ID.upper()),
    ("01234567-8901-2345-6789-012345678901", "01234567-8901-2345-6789-012345678901"),
    (f"{TASK_ID} for +15550100001, card 4242424242424242, code 123 456",
     f"{TASK_ID} for ***01, card ***42, code ******"),
    ("call 555-010-0001-1234", "call ***34"),  # dashes alone do not make an id
])
def test_uuids_stay_whole_and_numbers_are_still_masked(text, masked):
    assert mask_text(text) == masked


def test_a_request_id_that_is_a_uuid_is_logged_whole(demo_server):
    with demo_server.http() as http:
        reply = http.post("/api/chat/completions", headers={"X-Request-ID": TASK_ID},
                          json={"model": "fintalk-demo", "messages": [{"role": "user", "content": "Hello"}]})
    assert reply.status_code == 200
    lines = [json.loads(line) for line in demo_server.logs().splitlines() if line.startswith("{")]
    assert TASK_ID in [line.get("request_id") for line in lines if line.get("message") == "request"]
