"""Live call control from the console, in a real browser against a real server: a supervisor with the
"Can control a live call" permission says something and ends a call from its page, and the Vapi
stand-in (the call's monitor.controlUrl) receives both, each parsed with vapi-server-sdk's
ClientInboundMessage and audited with the supervisor as actor. Staff without the permission get a 403
and nothing reaches Vapi. The page shows the lifecycle Vapi reported and the listen link.
"""
import re
import shutil

import httpx
import pytest

from tests.conftest import LiveServer
from tests.test_console import CHROMEDRIVER, CHROMIUM, css, driver, wait_for  # noqa: F401 (driver: a fixture)
from tests.vapi_judge import judged
from tests.vapi_standin import VapiCaller, VapiStandIn, vapi_standin_server

SECRET = "call-control-test-secret"
PASSWORD = "control-test-password"
SUPERVISOR, AGENT = "supervisor", "agent"

pytestmark = pytest.mark.skipif(
    not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)),
    reason=f"browser tests need Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}): "
           "apt-get install chromium chromium-driver (.ci/run does this when it runs as root)")

USERS = f"""
from django.contrib.auth.models import Permission, User
for name, allowed in (("{SUPERVISOR}", True), ("{AGENT}", False)):
    user = User.objects.create_user(name, password="{PASSWORD}", is_staff=True)
    if allowed:
        user.user_permissions.add(Permission.objects.get(codename="control_call"))
"""


@pytest.fixture(scope="module")
def vapi():
    with vapi_standin_server(VapiStandIn()) as server:
        yield server


@pytest.fixture(scope="module")
def console(tmp_path_factory, vapi):
    server = LiveServer(tmp_path_factory.mktemp("control"), {
        "FINTALK_LLM": "demo", "FINTALK_VAPI_WEBHOOK_SECRET": SECRET, "FINTALK_VAPI_CONTROL_HOSTS": "127.0.0.1"})
    server.start()
    server.manage("shell", "-c", USERS)
    yield server
    server.stop()


@pytest.fixture
def live_call(console, vapi):
    """A call in progress that Vapi created with monitor.controlUrl (the stand-in) and listenUrl."""
    vapi.app.reset()
    call = VapiCaller(console.url, SECRET, number="+15550100001", control_base=vapi.url)
    assert call.send("ServerMessageAssistantRequest", type="assistant-request").status_code == 200
    assert call.send("ServerMessageStatusUpdate", type="status-update", status="in-progress").status_code == 200
    assert call.send("ServerMessageUserInterrupted", type="user-interrupted",
                     artifact={"messages": [{"role": "bot", "message": "Your card ending 4242 is", "time": 1,
                                             "endTime": 2, "secondsFromStart": 1}]}).status_code == 200
    pk = console.sql("SELECT id FROM calls_call WHERE call_id = ?", call.call_id)[0][0]
    return call, pk


def sign_in_as(driver, server, username: str, next_path: str) -> None:
    driver.delete_all_cookies()
    driver.get(server.url + "/admin/login/?next=" + next_path)
    css(driver, "#id_username").send_keys(username)
    css(driver, "#id_password").send_keys(PASSWORD)
    css(driver, "input[type=submit]").click()
    wait_for(driver, lambda d: "/admin/login/" not in d.current_url)


def submit(driver, form: str) -> str:
    """Submit one of the page's control forms; the message the reloaded page shows.

    The new page is told from the old by a mark left on the old page's window, not by holding one of
    its elements: Chromium's driver, asked about an element while its page is being replaced, can
    answer "Node with given id does not belong to the document" (an unknown error, not a stale
    element), so questions asked mid-navigation are ignored until the new page answers.
    """
    from selenium.common.exceptions import WebDriverException

    driver.execute_script("window.fintalkSubmitted = true")
    css(driver, form + " button").click()
    wait_for(driver, lambda d: d.execute_script(
        "return document.readyState === 'complete' && window.fintalkSubmitted === undefined"),
        ignoring=(WebDriverException,))
    return css(driver, "#control-messages").text


def audits(server, call_id: str) -> list[tuple]:
    return [tuple(row) for row in server.sql("SELECT action, outcome, actor, detail FROM bank_auditevent "
                                             "WHERE call_id = ? ORDER BY id", call_id)]


def test_a_supervisor_says_something_then_ends_the_call_from_its_page(driver, console, vapi, live_call):  # noqa: F811
    call, pk = live_call
    sign_in_as(driver, console, SUPERVISOR, f"/console/calls/{pk}/")
    assert css(driver, "#vapi-status").text == "in-progress"
    assert css(driver, "#listen-link").get_attribute("href") == f"{vapi.url.replace('http', 'ws', 1)}/call/{call.call_id}/listen"
    events = css(driver, "#events").text
    assert "Assistant chosen" in events and "known caller: greeted by first name" in events
    assert "Heard before the interruption: “Your card ending 4242 is”" in events
    css(driver, "#control-say input[name=content]").send_keys("A supervisor is joining the call.")
    assert submit(driver, "#control-say") == "say: Sent."
    assert submit(driver, "#control-end-call") == "end-call: Sent."
    sent = [message for call_id, message in vapi.app.control_messages if call_id == call.call_id]
    assert sent == [{"type": "say", "content": "A supervisor is joining the call.", "endCallAfterSpoken": False},
                    {"type": "end-call"}]
    for message in sent:  # what reached the stand-in is what Vapi's own types accept
        judged("ClientInboundMessage", {"message": message})
    assert audits(console, call.call_id) == [("call_control", "sent", SUPERVISOR, "say"),
                                             ("call_control", "sent", SUPERVISOR, "end-call")]
    assert "Live control" in css(driver, "#events").text


def test_staff_without_the_permission_get_a_403_and_nothing_reaches_vapi(console, vapi, live_call):
    call, pk = live_call
    with httpx.Client(base_url=console.url, timeout=10) as browser:
        login = browser.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        browser.post("/admin/login/", data={"username": AGENT, "password": PASSWORD, "csrfmiddlewaretoken": token,
                                            "next": "/console/"}, headers={"Referer": console.url + "/admin/login/"})
        page = browser.get(f"/console/calls/{pk}/")
        assert page.status_code == 200 and "control-say" not in page.text and 'id="control-hint"' in page.text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        csrf = token.group(1) if token else browser.cookies.get("csrftoken")
        refused = browser.post(f"/console/calls/{pk}/control/", data={"action": "end-call", "csrfmiddlewaretoken": csrf},
                               headers={"Referer": console.url + f"/console/calls/{pk}/"})
        assert refused.status_code == 403
    anonymous = httpx.post(console.url + f"/console/calls/{pk}/control/", data={"action": "end-call"})
    assert anonymous.status_code in (302, 403)
    assert vapi.app.control_messages == [] and audits(console, call.call_id) == []
