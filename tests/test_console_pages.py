"""The console pages as staff see them, in headless Chromium at 1400 px against a real server (the
fixtures of tests/test_console.py, started again here): an outbound call shows its purpose and links
to its request, the server's opening prompt is marked as the bank's, charts have legends and no
clipped label, read-only pages offer no Save or Delete, the audit list is newest first and fits the
page. With SCREENSHOTS=docs the pages are saved as docs/console-1400-*.png."""
import pytest

from agent.prompts import CALL_OPENING_QUERY
from tests.conftest import API_KEY
from tests.support.wait import wait_until
from tests.test_console import (  # noqa: F401  (module fixtures, started again for this module)
    console_server, css, driver, elements, recorded_calls, screenshot, sign_in, vapi_turns,
)
from tests.test_console import pytestmark  # noqa: F401  (skipped, with the reason, without Chromium)

WIDTH = 1400
CLIPPED_LABELS = """
const clipped = [];
for (const svg of document.querySelectorAll(arguments[0] + ' svg.chart')) {
  const [, , width, height] = svg.getAttribute('viewBox').split(' ').map(Number);
  for (const text of svg.querySelectorAll('text')) {
    const box = text.getBBox();
    const matrix = text.getCTM() && svg.getCTM() ? svg.getCTM().inverse().multiply(text.getCTM()) : null;
    const x = box.x + (matrix ? matrix.e : 0), y = box.y + (matrix ? matrix.f : 0);
    if (box.width && (x < -0.5 || y < -0.5 || x + box.width > width + 0.5 || y + box.height > height + 0.5))
      clipped.push(text.textContent);
  }
}
return clipped;"""


@pytest.fixture
def wide(driver):
    driver.set_window_size(WIDTH, 1000)
    yield driver
    driver.set_window_size(1280, 860)


@pytest.fixture(scope="module")
def outbound_call(console_server):
    """A fraud alert through the REST endpoint, its call placed (the attempt written as a worker would),
    and the call's opening turn as Vapi sends it: only the assistant's system message."""
    jane = console_server.sql("SELECT id FROM bank_customer WHERE phone = '+15550100001'")[0][0]
    spent = console_server.sql("SELECT id FROM bank_transaction WHERE merchant = 'Electronics Hub'")[0][0]
    with console_server.http() as http:
        created = http.post("/api/outbound/requests", json={"purpose": "fraud_alert", "customer": jane,
                                                            "transaction": spent},
                            headers={"Authorization": f"Bearer {console_server.outbound_key()}"})
        assert created.status_code in (200, 201), created.text
        request_id = created.json()["id"]
        console_server.manage("shell", "-c", "from outbound.models import OutboundAttempt as A; "
                              f"A.objects.create(request_id={request_id}, number=1, status='placed', "
                              "vapi_call_id='vapi-outbound-console')")
        customer = {"number": "+15550100001", "externalId": str(request_id)}
        reply = http.post("/api/chat/completions", json={
            "stream": False, "messages": [{"role": "system", "content": "You are the bank's agent."}],
            "call": {"id": "vapi-outbound-console", "type": "outboundPhoneCall", "customer": customer},
            "customer": customer})
        assert reply.status_code == 200, reply.text
    wait_until(lambda: console_server.sql("SELECT COUNT(*) FROM calls_turn t JOIN calls_call c ON c.id = t.call_id "
                                          "WHERE c.call_id = 'vapi-outbound-console'")[0][0] == 1, 15)
    call = console_server.sql("SELECT id FROM calls_call WHERE call_id = 'vapi-outbound-console'")[0][0]
    return {"request": request_id, "call": call}


def test_an_outbound_call_shows_its_purpose_links_its_request_and_marks_the_opening_prompt(
        wide, console_server, outbound_call):
    sign_in(wide, console_server)
    wide.get(f"{console_server.url}/console/calls/{outbound_call['call']}/")
    purpose = css(wide, "#outbound-purpose")
    assert "Fraud Alert" in purpose.text and f"outbound request #{outbound_call['request']}" in purpose.text
    link = purpose.find_element("css selector", "a").get_attribute("href")
    assert link.endswith(f"/admin/outbound/outboundrequest/{outbound_call['request']}/change/")
    internal = css(wide, "#transcript p.internal")
    assert "BANK (INTERNAL PROMPT)" in internal.text.upper() and CALL_OPENING_QUERY in internal.text
    assert not [p for p in elements(wide, "#transcript p.caller") if CALL_OPENING_QUERY in p.text]
    screenshot(wide, "console-1400-outbound-call.png")
    wide.get(link)  # the request's own page: read-only, nothing to save or delete
    assert "Fraud Alert" in css(wide, "#content").text
    assert not elements(wide, "input[name=_save], input[name=_continue], a.deletelink")
    screenshot(wide, "console-1400-outbound-request.png")


def test_charts_have_legends_and_no_clipped_label(wide, console_server, recorded_calls):
    sign_in(wide, console_server)
    wide.get(console_server.url + "/console/?days=7")
    assert [item.text for item in elements(wide, "#ttft svg.chart .legend-item")] == ["p50", "p95"]
    assert "caller asked for a person" in " ".join(
        line.text for line in elements(wide, "#handoff-reasons svg.chart text tspan"))  # wrapped, not cut
    assert wide.execute_script(CLIPPED_LABELS, "#content") == []
    screenshot(wide, "console-1400-dashboard.png")
    wide.get(f"{console_server.url}/console/calls/{recorded_calls['call-console-resolved']}/")
    assert [item.text for item in elements(wide, "#latency svg.chart .legend-item")] == [
        "time to first token", "rest of the turn"]
    assert wide.execute_script(CLIPPED_LABELS, "#content") == []
    screenshot(wide, "console-1400-call.png")


def test_the_audit_list_is_newest_first_fits_the_page_and_offers_no_save(wide, console_server):
    with console_server.http() as http:
        for text in ("Can I talk to a person?", "Can I talk to a person? It's urgent."):
            reply = http.post("/api/chat/completions", headers={"X-Request-ID": "audit-" + "x" * 58},
                              json={"stream": False, "messages": [{"role": "user", "content": text}],
                                    "call": {"id": "call-audit-" + "y" * 100, "type": "webCall"}})
            assert reply.status_code == 200
    console_server.manage("shell", "-c", "from bank.models import AuditEvent as A; "
                          "A.objects.create(action='card_block', masked_phone='+1******0001', outcome='blocked', "
                          "request_id='z' * 64, call_id='c' * 128, detail='newest')")
    sign_in(wide, console_server)
    wide.get(console_server.url + "/admin/bank/auditevent/")
    rows = elements(wide, "#result_list tbody tr")
    assert len(rows) >= 2 and "newest" in rows[0].text
    right = wide.execute_script("return document.querySelector('#result_list').getBoundingClientRect().right")
    assert right <= wide.execute_script("return document.documentElement.clientWidth"), right
    screenshot(wide, "console-1400-audit.png")
    rows[0].find_element("css selector", "th a, td a").click()
    assert not elements(wide, "input[name=_save], a.deletelink")
    assert API_KEY  # the suite's key served the API requests above
