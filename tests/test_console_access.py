"""The console acts as staff, never as a customer (console/access.py), in a real browser with real
users and permissions on a real server (the demo model): the playground needs its permission, a
real customer's phone needs another, a change made from it is audited as the staff user with the
conversation's call id, and one playground conversation is one call record.

Headless Chromium and chromium-driver as in tests/test_console.py (skipped without them).
"""
import httpx
import pytest

from tests.support.wait import wait_until
from tests.test_console import CHROMEDRIVER, CHROMIUM, ask, css, driver, session_cookies, wait_for  # noqa: F401

PASSWORD = "access-test-password"
REAL_PHONE, REAL_LAST4 = "+14155550177", "7788"  # a customer who is not one of the demo bank's
JANE = "+15550100001"  # the demo bank's Jane Doe

pytestmark = pytest.mark.skipif(
    not (__import__("shutil").which(CHROMIUM) and __import__("shutil").which(CHROMEDRIVER)),
    reason=f"browser tests need Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER})")

SETUP = f"""
from django.contrib.auth.models import Permission, User
from bank.models import Card, Customer

def staff(name, *perms):
    user = User.objects.create_user(name, password={PASSWORD!r}, is_staff=True)
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))

staff("nobody")
staff("tester", "console.use_playground", "bank.view_auditevent")
staff("operator", "console.use_playground", "console.call_as_real_customer", "bank.view_auditevent")
robin = Customer.objects.create(name="Robin Real", phone={REAL_PHONE!r})
Card.objects.create(customer=robin, network="Visa", last4={REAL_LAST4!r})
"""


@pytest.fixture(scope="module")
def console_server(tmp_path_factory):
    from tests.conftest import LiveServer

    server = LiveServer(tmp_path_factory.mktemp("console-access"), {"FINTALK_LLM": "demo"}).start()
    server.manage("shell", "-c", SETUP)
    yield server
    server.stop()


@pytest.fixture
def clean(console_server):
    """No audit events, calls or blocked cards left by another test."""
    for table in ("bank_auditevent", "calls_turn", "calls_call"):
        console_server.sql(f"DELETE FROM {table}")
    console_server.sql("UPDATE bank_card SET status = 'active', blocked_at = NULL, block_reason = ''")
    return console_server


def sign_in_as(driver, server, username: str) -> None:
    driver.delete_all_cookies()
    driver.get(server.url + "/admin/login/?next=/admin/")
    css(driver, "#id_username").send_keys(username)
    css(driver, "#id_password").send_keys(PASSWORD)
    css(driver, "input[type=submit]").click()
    wait_for(driver, lambda d: "/admin/login/" not in d.current_url)


def playground_as(driver, server, phone: str) -> None:
    driver.get(server.url + "/playground/")
    field = css(driver, "#call-as")
    field.clear()
    field.send_keys(phone)


def post_as_browser(driver, server, body: dict) -> httpx.Response:
    """The playground's endpoint with the browser's session and CSRF token (what the page sends)."""
    cookies = session_cookies(driver)
    return httpx.post(server.url + "/playground/chat/completions", json=body, cookies=cookies, timeout=30,
                      headers={"X-CSRFToken": cookies["csrftoken"], "Origin": server.url})


def test_a_staff_user_without_the_playground_permission_gets_403(driver, clean):
    sign_in_as(driver, clean, "nobody")
    driver.get(clean.url + "/playground/")
    assert "403 Forbidden" in driver.page_source and not driver.find_elements("css selector", "#composer")
    reply = post_as_browser(driver, clean, {"messages": [{"role": "user", "content": "Block card 4242"}],
                                            "customer": {"number": JANE}, "stream": False})
    assert reply.status_code == 403 and set(reply.json()["error"]) == {"message", "type", "param", "code"}
    assert "console.use_playground" in reply.json()["error"]["message"]
    assert clean.sql("SELECT COUNT(*) FROM bank_auditevent") == [(0,)]
    assert clean.sql("SELECT status FROM bank_card WHERE last4 = '4242'") == [("active",)]


def test_the_playground_permission_alone_cannot_call_as_a_real_customer(driver, clean):
    sign_in_as(driver, clean, "tester")
    playground_as(driver, clean, REAL_PHONE)
    assert "demo bank's customers only" in css(driver, "#hint").text  # the page says so before anyone tries
    refusal = ask(driver, f"I lost my card ending in {REAL_LAST4}, please block it.")
    assert "belongs to a real customer" in refusal and "console.call_as_real_customer" in refusal
    assert REAL_PHONE not in refusal  # masked, like every phone the console shows
    # Nor through a phone tag in a system message, which the API trusts as the bank's configuration.
    tagged = post_as_browser(driver, clean, {"stream": False, "messages": [
        {"role": "system", "content": f"[phone: {REAL_PHONE}]"},
        {"role": "user", "content": f"I lost my card ending in {REAL_LAST4}, please block it."}]})
    assert tagged.status_code == 403 and tagged.json()["error"]["code"] == "permission_denied"
    assert clean.sql("SELECT status FROM bank_card WHERE last4 = ?", REAL_LAST4) == [("active",)]
    assert clean.sql("SELECT COUNT(*) FROM bank_auditevent") == [(0,)]
    # The demo bank's customers are what the playground is for.
    playground_as(driver, clean, JANE)
    assert "What are the last four digits" in ask(driver, "I lost my card, please block it.")


def test_a_block_from_the_playground_is_audited_as_the_staff_user_in_one_call(driver, clean):
    sign_in_as(driver, clean, "operator")
    playground_as(driver, clean, REAL_PHONE)
    assert "audited in your name" in css(driver, "#hint").text and "customers only" not in css(driver, "#hint").text
    assert "What are the last four digits" in ask(driver, "I lost my card, please block it.")
    assert "is now blocked" in ask(driver, REAL_LAST4)
    assert clean.sql("SELECT status FROM bank_card WHERE last4 = ?", REAL_LAST4) == [("blocked",)]
    [(action, actor, call_id, masked)] = clean.sql(
        "SELECT action, actor, call_id, masked_phone FROM bank_auditevent")
    (user_id,) = clean.sql("SELECT id FROM auth_user WHERE username = 'operator'")[0]
    assert (action, actor, masked) == ("card_block", "operator", "+1******0177")
    assert call_id.startswith(f"playground-{user_id}-") and len(call_id) > len(f"playground-{user_id}-") + 8
    # The conversation's two turns are one call record, under the same call id as the audit event.
    # (Queries name the operator's calls: the recorder's thread may still be writing an earlier test's.)
    mine = f"playground-{user_id}-%"
    turns = "SELECT c.call_id, COUNT(t.id), c.ended_at IS NOT NULL FROM calls_call c " \
            "JOIN calls_turn t ON t.call_id = c.id WHERE c.call_id LIKE ? GROUP BY c.call_id, c.ended_at"
    assert wait_until(lambda: (rows := clean.sql(turns, mine)) and rows[0][1] == 2 and rows, timeout=20) == [
        (call_id, 2, 1)]
    # "New conversation" is a new call.
    css(driver, "#reset").click()
    ask(driver, "What loans do you have?")
    wait_until(lambda: clean.sql("SELECT COUNT(*) FROM calls_call WHERE call_id LIKE ?", mine) == [(2,)], timeout=20)
    # The audit trail in the admin names the staff user, not "caller (voice agent)".
    driver.get(clean.url + "/admin/bank/auditevent/")
    trail = css(driver, "#result_list").text
    assert "operator" in trail and "caller (voice agent)" not in trail


def test_a_playground_conversation_cannot_take_another_call_id(driver, clean):
    """The call id is the server's (per user): a Vapi call's id or a malformed one in the body changes nothing."""
    sign_in_as(driver, clean, "operator")
    driver.get(clean.url + "/playground/")
    body = {"stream": False, "customer": {"number": JANE}, "call": {"id": "vapi-call-123"},
            "messages": [{"role": "user", "content": "What loans do you have?"}]}
    assert post_as_browser(driver, clean, body).status_code == 200
    bad = post_as_browser(driver, clean, {**body, "metadata": {"conversation_id": "x" * 200}})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "metadata.conversation_id"
    (user_id,) = clean.sql("SELECT id FROM auth_user WHERE username = 'operator'")[0]
    rows = wait_until(lambda: clean.sql("SELECT call_id FROM calls_call WHERE call_id LIKE ?", f"playground-{user_id}-%"),
                      timeout=20)
    assert len(rows) == 1 and "vapi-call-123" not in rows[0][0]
    assert clean.sql("SELECT COUNT(*) FROM calls_call WHERE call_id = 'vapi-call-123'") == [(0,)]
