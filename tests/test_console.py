"""The console (the admin and the playground) in a real browser against a real server on the demo model.

Headless Chromium from Debian's `chromium` package, driven by Selenium through Debian's
`chromium-driver` (built from the same source as the browser, so their versions always match;
nothing is downloaded at run time). Without them every test here is skipped with the reason.
Set SCREENSHOTS=docs to refresh the README's screenshots while the tests run.
Why ~420 lines: one browser and one console server serve every test here (starting either costs
seconds).
"""
import csv
import io
import os
import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEY, LiveServer

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
USERNAME, PASSWORD = "admin", "console-test-password"
WEBHOOK_SECRET = "console-test-webhook-secret"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,860")
SCREENSHOTS = os.environ.get("SCREENSHOTS")

pytestmark = pytest.mark.skipif(
    not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)),
    reason=f"browser tests need Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}): "
           "apt-get install chromium chromium-driver (.ci/run does this when it runs as root)",
)


@pytest.fixture(scope="module")
def console_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("console"), {"FINTALK_LLM": "demo",
                                                              "FINTALK_VAPI_WEBHOOK_SECRET": WEBHOOK_SECRET})
    server.env["DJANGO_SUPERUSER_PASSWORD"] = PASSWORD
    server.start()
    server.manage("createsuperuser", "--noinput", "--username", USERNAME, "--email", "ops@example.com")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(30)
    yield browser
    browser.quit()


@pytest.fixture
def bank(console_server):
    console_server.manage("seed_demo", "--reset")
    return console_server


def wait_for(driver, condition, timeout: float = 20, ignoring: tuple = ()):
    """`condition`'s first true answer; `ignoring`: errors to ask again after (besides NoSuchElement)."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, ignored_exceptions=ignoring).until(condition)


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def screenshot(driver, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SCREENSHOTS) / name))


def sign_in(driver, server, next_path: str = "/admin/") -> None:
    driver.get(server.url + next_path)
    if "/admin/login/" not in driver.current_url:
        return  # already signed in
    css(driver, "#id_username").send_keys(USERNAME)
    css(driver, "#id_password").send_keys(PASSWORD)
    css(driver, "input[type=submit]").click()
    wait_for(driver, lambda d: "/admin/login/" not in d.current_url)


def run_action(driver, server, changelist: str, search: str, action: str) -> str:
    """Select the rows a search finds, run an admin action, return the message it shows."""
    from selenium.webdriver.support.ui import Select

    driver.get(f"{server.url}{changelist}?q={search}")
    css(driver, "#action-toggle").click()
    Select(css(driver, "select[name=action]")).select_by_value(action)
    css(driver, "button[name=index]").click()
    return wait_for(driver, lambda d: css(d, "ul.messagelist")).text


def ask(driver, text: str) -> str:
    """Send a message in the playground; the agent's whole reply once its stream has ended."""
    from selenium.webdriver.common.keys import Keys

    replies = len(driver.find_elements("css selector", "#conversation li.assistant"))
    css(driver, "#message").send_keys(text, Keys.ENTER)
    return wait_for(driver, lambda d: d.execute_script(
        "const all = document.querySelectorAll('#conversation li.assistant');"
        "const last = all[all.length - 1];"
        "return all.length > arguments[0] && !last.classList.contains('streaming')"
        " && [last.querySelector('.text').textContent];", replies))[0]


def session_cookies(driver) -> dict[str, str]:
    return {cookie["name"]: cookie["value"] for cookie in driver.get_cookies()}


def test_anonymous_visitor_is_sent_to_the_login_page(driver, console_server):
    driver.delete_all_cookies()
    driver.get(console_server.url + "/playground/")
    assert driver.current_url == console_server.url + "/admin/login/?next=/playground/"
    driver.get(console_server.url + "/admin/bank/card/")
    assert driver.current_url.startswith(console_server.url + "/admin/login/")
    # Nor can the playground's endpoint be called without a staff session.
    reply = httpx.post(console_server.url + "/playground/chat/completions", json={"messages": []})
    assert reply.status_code in (401, 403) and set(reply.json()["error"]) == {"message", "type", "param", "code"}


def test_sign_in_opens_the_console(driver, console_server):
    driver.delete_all_cookies()
    sign_in(driver, console_server)
    assert "Fintalk console" in css(driver, "#site-name").text
    for model in ("Customers", "Cards", "Loan products", "Audit events", "API keys"):
        assert model in css(driver, "#content-main").text


def test_block_card_4242_from_the_admin_records_one_audit_event_with_the_actor(driver, bank):
    sign_in(driver, bank)
    assert "1 card blocked." in run_action(driver, bank, "/admin/bank/card/", "4242", "block_cards")
    assert bank.sql("SELECT status FROM bank_card WHERE last4 = '4242'") == [("blocked",)]
    driver.get(bank.url + "/admin/bank/card/")
    screenshot(driver, "console-admin.png")
    # A second block changes nothing and writes nothing: still exactly one event, naming the staff user.
    assert "already blocked, nothing changed" in run_action(driver, bank, "/admin/bank/card/", "4242", "block_cards")
    assert bank.sql("SELECT action, actor, card_last4, outcome, masked_phone FROM bank_auditevent") == [
        ("card_block", USERNAME, "4242", "blocked", "+1******0001")]
    # The trail is read-only, for a superuser too: no add button, no actions, no save.
    driver.get(bank.url + "/admin/bank/auditevent/")
    assert USERNAME in css(driver, "#result_list").text
    assert not driver.find_elements("css selector", ".object-tools a.addlink, select[name=action]")
    event_id = bank.sql("SELECT id FROM bank_auditevent")[0][0]
    driver.get(f"{bank.url}/admin/bank/auditevent/{event_id}/change/")
    assert not driver.find_elements("css selector", "input[name=_save], a.deletelink")
    # Unblocking is the same kind of change: one more event, the card active again.
    assert "1 card unblocked." in run_action(driver, bank, "/admin/bank/card/", "4242", "unblock_cards")
    assert bank.sql("SELECT status FROM bank_card WHERE last4 = '4242'") == [("active",)]
    assert bank.sql("SELECT action, actor FROM bank_auditevent ORDER BY id") == [
        ("card_block", USERNAME), ("card_unblock", USERNAME)]


def test_customers_are_searched_by_last_digits_and_listed_with_masked_phones(driver, bank):
    sign_in(driver, bank)
    driver.get(bank.url + "/admin/bank/customer/?q=0002")
    listed = css(driver, "#result_list").text
    assert "John Smith" in listed and "Jane Doe" not in listed
    assert "+1******0002" in listed and "+15550100002" not in listed


def test_a_loan_rate_edited_in_the_admin_is_what_the_agent_says_in_the_playground(driver, bank):
    sign_in(driver, bank)
    (loan_id,) = bank.sql("SELECT id FROM bank_loanproduct WHERE kind = 'auto'")[0]
    driver.get(f"{bank.url}/admin/bank/loanproduct/{loan_id}/change/")
    field = css(driver, "#id_apr_min")
    field.clear()
    field.send_keys("3.25")
    css(driver, "input[name=_save]").click()
    assert "was changed successfully" in wait_for(driver, lambda d: css(d, "ul.messagelist")).text
    driver.get(bank.url + "/playground/")
    assert css(driver, "#call-as").get_attribute("value") == "+15550100001"  # the demo bank is loaded
    reply = ask(driver, "Do you have car loans?")
    assert "New and Used Car Loan" in reply and "APR from 3.25 percent" in reply


def test_playground_reply_arrives_in_pieces(driver, bank):
    sign_in(driver, bank)
    driver.get(bank.url + "/playground/")
    # Record every text node appended to an agent reply, as the page appends them.
    driver.execute_script("""
        window.pieces = []; window.batches = 0;
        new MutationObserver((records) => {
            window.batches += 1;
            for (const record of records) {
                if (!record.target.closest || !record.target.closest('li.assistant')) continue;
                for (const node of record.addedNodes) if (node.nodeType === Node.TEXT_NODE) window.pieces.push(node.data);
            }
        }).observe(document.getElementById('conversation'), {childList: true, subtree: true});
    """)
    reply = ask(driver, "What loans do you have?")
    pieces, batches = driver.execute_script("return [window.pieces, window.batches]")
    print(f"{len(pieces)} pieces in {batches} DOM update batches")
    assert len(pieces) > 1, pieces
    assert "".join(pieces) == reply
    assert reply.startswith("We have 3 loans.") and "Fixed Rate Home Loan" in reply
    assert "fintalk-demo" in css(driver, "#status").text and "finish: stop" in css(driver, "#status").text


def test_playground_shows_the_tool_calls_in_the_stream_and_keeps_the_history(driver, bank):
    sign_in(driver, bank)
    driver.get(bank.url + "/playground/")
    # The call shows as it streams; the page answers it (no real transfer) and the agent goes on.
    reply = ask(driver, "Can I talk to a person?")
    tools = [item.text for item in driver.find_elements("css selector", "#conversation li.tool")]
    assert tools[0].endswith("transfer_to_human (the bank's tool)")  # records the handoff, then Vapi's tool
    assert tools[1].endswith("transferCall({})")
    assert "not available in the playground" in reply
    # The next turn carries that history (the call and its result) and is answered as usual.
    reply = ask(driver, "Which cards do I have?")
    assert "You have a Visa card, which is active." in reply
    tools = [item.text for item in driver.find_elements("css selector", "#conversation li.tool")]
    assert any("list_credit_cards (the bank's tool)" in text for text in tools)  # the bank's own, from the stream
    screenshot(driver, "console-playground.png")


def test_session_auth_is_for_the_console_only_and_needs_csrf(driver, console_server):
    sign_in(driver, console_server)
    cookies = session_cookies(driver)
    assert "sessionid" in cookies
    body = {"messages": [{"role": "user", "content": "hi"}], "stream": False}
    with httpx.Client(base_url=console_server.url, cookies=cookies, timeout=30) as browser_like:
        # The public API stays bearer-key only: a staff session opens nothing there, and sets no cookie.
        reply = browser_like.post("/api/chat/completions", json=body)
        assert reply.status_code == 401 and reply.json()["error"]["code"] == "invalid_api_key"
        assert "set-cookie" not in reply.headers and "cookie" not in reply.headers.get("vary", "").lower()
        # The playground's endpoint takes the session, but not without the CSRF token.
        reply = browser_like.post("/playground/chat/completions", json=body)
        assert reply.status_code == 403 and "CSRF" in reply.json()["error"]["message"]
        reply = browser_like.post("/playground/chat/completions", json=body, headers={
            "X-CSRFToken": cookies["csrftoken"], "Origin": console_server.url})
        assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"]


def test_api_key_created_in_the_admin_is_shown_once_works_and_can_be_revoked(driver, console_server):
    sign_in(driver, console_server)
    driver.get(console_server.url + "/admin/api/apikey/add/")
    css(driver, "#id_name").send_keys("from-the-console")
    css(driver, "input[name=_save]").click()
    key = wait_for(driver, lambda d: css(d, "#issued-key")).get_attribute("value")
    assert key.startswith("ftk_")
    (stored,) = console_server.sql("SELECT key_hash FROM api_apikey WHERE name = 'from-the-console'")[0]
    assert key not in stored and len(stored) == 64
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(console_server.url + "/api/models", headers=headers).status_code == 200
    driver.get(console_server.url + "/admin/api/apikey/")
    row = css(driver, "#result_list").text
    assert "from-the-console" in row and key not in row and key[:12] in row
    assert console_server.sql("SELECT last_used_at IS NOT NULL FROM api_apikey WHERE name = 'from-the-console'") == [(1,)]
    assert "Revoked 1 API key" in run_action(driver, console_server, "/admin/api/apikey/", "from-the-console",
                                             "revoke_keys")
    assert httpx.get(console_server.url + "/api/models", headers=headers).status_code == 401
    assert httpx.get(console_server.url + "/api/models",
                     headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200


def elements(driver, selector: str):
    return driver.find_elements("css selector", selector)


def test_playground_shows_a_hint_then_the_bank_tool_above_the_answer_it_produced(driver, bank):
    sign_in(driver, bank)
    driver.get(bank.url + "/playground/")
    hint = css(driver, "#hint")
    assert hint.is_displayed() and "Which cards do I have?" in hint.text
    reply = ask(driver, "Which cards do I have?")
    assert "You have a Visa card, which is active." in reply and not hint.is_displayed()
    kinds = [item.get_attribute("class").split()[0] for item in elements(driver, "#conversation li")]
    assert kinds == ["user", "tool", "assistant"], kinds  # the tool ran first, then the answer it produced
    assert css(driver, "#conversation li.tool").text.endswith("list_credit_cards (the bank's tool)")
    css(driver, "#reset").click()
    assert hint.is_displayed() and not elements(driver, "#conversation li")
    # An example from the hint is sent as a message.
    css(driver, "#hint button[data-example='What loans do you have?']").click()
    wait_for(driver, lambda d: len(d.find_elements("css selector", "#conversation li.assistant:not(.streaming)")) == 1)
    assert "Fixed Rate Home Loan" in css(driver, "#conversation li.assistant").text


def test_view_site_opens_the_playground_and_the_favicon_is_served(driver, console_server):
    sign_in(driver, console_server)
    driver.get(console_server.url + "/admin/")
    view_site = driver.find_element("link text", "VIEW SITE") if elements(driver, "#user-tools") else None
    assert view_site.get_attribute("href") == console_server.url + "/playground/"
    view_site.click()
    wait_for(driver, lambda d: d.current_url == console_server.url + "/playground/")
    assert "Playground" in driver.title
    icon = httpx.get(console_server.url + "/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content.startswith(b"\x00\x00\x01\x00")  # an ICO file


def vapi_turns(server, call_id: str, texts: list[str], number: str | None = "+15550100001", tools=None) -> None:
    """A Vapi call's turns through the API, as Vapi would send them (history growing, streamed)."""
    history = []
    customer = {"number": number} if number else {}
    body = {"call": {"id": call_id, "type": "inboundPhoneCall" if number else "webCall", "customer": customer},
            "customer": customer, "stream": True}
    if tools:
        body["tools"] = tools
    with server.http() as http:
        for text in texts:
            history.append({"role": "user", "content": text})
            reply = http.post("/api/chat/completions", json={**body, "messages": history})
            assert reply.status_code == 200 and reply.text.rstrip().endswith("data: [DONE]")
            history.append({"role": "assistant", "content": "(spoken)"})


def poll(condition, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "not recorded in time"
        time.sleep(0.05)
    return value


@pytest.fixture(scope="module")
def recorded_calls(console_server):
    """Three calls on the record: one resolved (three turns and Vapi's report), one handed over, one web call."""
    vapi_turns(console_server, "call-console-resolved",
               ["What loans do you have?", "Which cards do I have?", "Thank you, that's all."])
    vapi_turns(console_server, "call-console-handover", ["Can I talk to a person?"], tools=[
        {"type": "function", "function": {"name": "transferCall", "description": "Transfer the caller to a person.",
                                          "parameters": {"type": "object", "properties": {}}}}])
    vapi_turns(console_server, "call-console-web", ["Hello"], number=None)
    poll(lambda: console_server.sql("SELECT COUNT(*) FROM calls_turn t JOIN calls_call c ON c.id = t.call_id "
                                    "WHERE c.call_id LIKE 'call-console-%'")[0][0] == 5)
    started = console_server.sql("SELECT started_at FROM calls_call WHERE call_id = 'call-console-resolved'")[0][0]
    started = datetime.fromisoformat(str(started)).replace(tzinfo=timezone.utc)
    report = {"message": {"type": "end-of-call-report", "endedReason": "customer-ended-call",
                          "call": {"id": "call-console-resolved", "type": "inboundPhoneCall"},
                          "startedAt": (started - timedelta(seconds=5)).isoformat(),
                          "endedAt": (started + timedelta(seconds=120)).isoformat(), "cost": 0.21,
                          "analysis": {"summary": "Jane asked about loans and her cards."}}}
    reply = httpx.post(console_server.url + "/api/vapi/events", json=report, headers={"X-Vapi-Secret": WEBHOOK_SECRET})
    assert reply.status_code == 200 and reply.json()["handled"]
    return {call_id: pk for pk, call_id in console_server.sql("SELECT id, call_id FROM calls_call")}


def visible_chart(driver, selector: str):
    chart = css(driver, f"{selector} svg.chart")
    size = chart.size
    assert chart.is_displayed() and size["width"] > 200 and size["height"] > 40, (selector, size)
    return chart


def test_call_pages_need_a_staff_session(driver, console_server):
    driver.delete_all_cookies()
    for path in ("/console/", "/console/calls/", "/console/calls/1/", "/console/calls/?format=csv"):
        driver.get(console_server.url + path)
        assert driver.current_url.startswith(console_server.url + "/admin/login/?next=/console/"), path


def test_dashboard_draws_its_charts(driver, console_server, recorded_calls):
    sign_in(driver, console_server)
    driver.get(console_server.url + "/console/")
    for panel in ("#calls-per-hour", "#containment", "#containment-per-day", "#ttft", "#handoff-reasons"):
        visible_chart(driver, panel)
    bars = elements(driver, "#calls-per-hour svg.chart rect.bar")
    heights = [float(bar.get_attribute("height")) for bar in bars]
    assert len(bars) == 7 * 24 and max(heights) > 0  # this hour's calls
    assert len(elements(driver, "#ttft svg.chart circle")) >= 2  # p50 and p95 for today
    assert "caller asked" in css(driver, "#handoff-reasons").text
    assert css(driver, "#containment svg.chart text.big").text.endswith("%")
    screenshot(driver, "console-dashboard.png")


def test_call_list_filters_and_exports_the_filtered_list(driver, console_server, recorded_calls):
    sign_in(driver, console_server)
    driver.get(console_server.url + "/console/calls/")
    listed = css(driver, "#call-list").text
    assert "+1******0001" in listed and "Jane Doe" in listed and "+15550100001" not in listed
    assert len(elements(driver, "#call-list tbody tr")) >= 3
    screenshot(driver, "console-calls.png")
    from selenium.webdriver.support.ui import Select

    Select(css(driver, "#id_handed_over")).select_by_value("yes")
    Select(css(driver, "#id_type")).select_by_value("inbound")  # the playground's transfers are api calls
    css(driver, "#call-filters button[type=submit]").click()
    wait_for(driver, lambda d: "handed_over=yes" in d.current_url)
    rows = elements(driver, "#call-list tbody tr")
    assert len(rows) == 1 and "Handed over" in rows[0].text
    export = css(driver, "#export-csv").get_attribute("href")
    assert "handed_over=yes" in export and "format=csv" in export
    reply = httpx.get(export, cookies=session_cookies(driver))
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(reply.text)))
    assert [row["call_id"] for row in table] == ["call-console-handover"]
    assert table[0]["outcome"] == "handed_over" and table[0]["handoff_reason"] == "caller asked for a person"
    # The other filters narrow the list the same way.
    for query, expected in (("type=web", {"call-console-web"}), ("customer=Jane", {"call-console-resolved",
                                                                                   "call-console-handover"}),
                            ("outcome=resolved&type=inbound", {"call-console-resolved"})):
        reply = httpx.get(f"{console_server.url}/console/calls/?{query}&format=csv", cookies=session_cookies(driver))
        assert {row["call_id"] for row in csv.DictReader(io.StringIO(reply.text))} >= expected, query


def test_call_page_shows_the_transcript_tools_and_a_latency_chart(driver, console_server, recorded_calls):
    sign_in(driver, console_server)
    driver.get(f"{console_server.url}/console/calls/{recorded_calls['call-console-resolved']}/")
    transcript = css(driver, "#transcript").text
    assert "What loans do you have?" in transcript and "Fixed Rate Home Loan" in transcript
    assert "get_loan_products → ok" in transcript and "list_credit_cards → ok" in transcript
    assert css(driver, "#ended-reason").text == "customer-ended-call" and css(driver, "#duration").text == "125.0 s"
    chart = visible_chart(driver, "#latency")
    assert len(chart.find_elements("css selector", "rect.bar:not(.rest)")) == 3  # one TTFT bar per turn
    screenshot(driver, "console-call.png")
