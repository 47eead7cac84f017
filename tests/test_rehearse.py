"""Rehearsals (#29): the shipped scenarios pass on the demo model and on the Bedrock stand-in, run
by `python -m rehearse` as a user runs it (its own server, JUnit XML, results stored); a scenario
that expects something false fails with a clear message, repeated N times with its pass rate; a
simulated caller and a judge talk Converse to a stand-in; the console shows the runs; a recorded
call becomes a scenario from its page (POST, staff, permission, CSRF) and that scenario passes
when replayed.

The runner's results go to the console server's database, so the console pages are read over HTTP
as staff would read them.
"""
import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest
import yaml

from rehearse.scenario import ScenarioError, load, load_all
from tests.bedrock_standin import BedrockStandIn, Reply, StandInServer
from tests.conftest import API_KEY, LiveServer

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
USERNAME, PASSWORD = "rehearsal-lead", "a-long-test-password-29"
FLOWS = {"identity", "loans", "verification", "balances", "transactions", "block", "replacement", "dispute",
         "payment", "person", "outbound-fraud", "outbound-reminder", "refusal"}


def rehearse(*args: str, database_url: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "fintalk.settings"}
    return subprocess.run([sys.executable, "-m", "rehearse", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def junit_cases(path: Path) -> list[ElementTree.Element]:
    return ElementTree.parse(path).getroot().findall("./testsuite/testcase")


# --- The files -----------------------------------------------------------------------------------

def test_at_least_thirty_scenarios_cover_every_flow_each_with_an_adversarial_one():
    scenarios = load_all([SCENARIOS])
    assert len(scenarios) >= 30
    assert FLOWS <= {s.flow for s in scenarios}
    adversarial = {s.flow for s in scenarios if s.name.startswith("adversarial-")}
    shipped = FLOWS - {"refusal", "identity"}  # refusals are adversarial by nature; identity has the phone tag
    assert shipped <= adversarial | {"verification"} and "verification" in adversarial
    assert any(s.caller.call == "outbound" and s.caller.outbound["purpose"] == "payment_reminder" for s in scenarios)
    # Every turn has a script for the stand-in where the demo is not the only model it runs on.
    assert all(turn.model for s in scenarios for turn in s.turns), "a turn without `model:` cannot run on Bedrock"


@pytest.mark.parametrize("text, message", [
    ("caller: {phone: '+15550100001'}\nturns: [{say: hi, expect: {sayz: [x]}}]", "unknown key(s) ['sayz']"),
    ("caller: {phone: '+15550100001'}\nturns: [{say: hi, expect: {tools: [{tool: block_credit_card, "
     "args: {card_last4: '4242'}}]}}]", "keep the outcome of the bank tool block_credit_card, not its arguments"),
    ("caller: {call: phone}\nturns: [hi]", "'phone' is not one of"),
    ("caller: {phone: '+15550100001'}", "give the caller's turns, or a persona and a goal"),
    ("caller: {phone: '+15550100001'}\nturns: [hi]\nexpect: {never_say: [secrets]}", "'secrets': use one of"),
    ("turns: [{expect: {}}]", "each turn has `say`"),
])
def test_a_mistake_in_a_scenario_file_is_named_before_anything_is_sent(tmp_path, text, message):
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as raised:
        load(path)
    assert str(path) in str(raised.value) and message in str(raised.value)


# --- Servers -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def console_server(tmp_path_factory, request):
    """A demo server with codes in a file, the suite's Redis as its shared cache (emptied before each
    scenario: lockouts and code caps live there), a staff user who may make scenarios, and the
    results' database of every rehearsal below (so its console shows them)."""
    tmp = tmp_path_factory.mktemp("rehearse-console")
    try:
        cache_url = request.getfixturevalue("redis_service").url(12)
    except pytest.skip.Exception:
        cache_url = None  # the whole-suite rehearsal on this server skips; the others need no cache
    server = LiveServer(tmp, {"FINTALK_LLM": "demo", "FINTALK_SMS_BACKEND": "file",
                              "FINTALK_SMS_FILE_PATH": str(tmp / "sms.log"),
                              "FINTALK_RECORDED_SCENARIOS_DIR": str(tmp / "recorded"),
                              **({"FINTALK_CACHE_URL": cache_url} if cache_url else {})})
    server.cache_url = cache_url
    server.env["DJANGO_SUPERUSER_PASSWORD"] = PASSWORD
    server.start()
    server.manage("createsuperuser", "--noinput", "--username", USERNAME, "--email", "lead@example.com")
    server.manage("createsuperuser", "--noinput", "--username", "plain-staff", "--email", "staff@example.com")
    server.manage("shell", "-c", "from django.contrib.auth.models import User; "
                  "User.objects.filter(username='plain-staff').update(is_superuser=False)")
    server.sms, server.recorded = tmp / "sms.log", tmp / "recorded"
    yield server
    server.stop()


@contextlib.contextmanager
def signed_in(server, username: str = USERNAME):
    """An httpx client signed in to the console through the admin's login form (session and CSRF)."""
    with httpx.Client(base_url=server.url, timeout=30, follow_redirects=False) as client:
        page = client.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        done = client.post("/admin/login/", data={"username": username, "password": PASSWORD,
                                                  "csrfmiddlewaretoken": token, "next": "/console/"},
                           headers={"Origin": server.url})
        assert done.status_code == 302, done.text[:500]
        yield client


def against(server) -> list[str]:
    return ["--base-url", server.url, "--api-key", API_KEY, "--outbound-api-key", server.outbound_key(),
            "--database-url", server.env["DATABASE_URL"],
            "--sms-file", str(server.sms), "--reset-bank"] + (["--cache-url", server.cache_url] if server.cache_url else [])


# --- Every scenario, on both models --------------------------------------------------------------

@pytest.mark.timeout(600)
def test_every_scenario_passes_on_the_demo_model(console_server, tmp_path):
    """On a running demo server (--base-url, its bank and cache reset before each scenario); the
    stand-in's run below covers the server the runner starts itself."""
    if not console_server.cache_url:
        pytest.skip("needs redis-server: the scenarios send more codes per phone than a day allows without "
                    "emptying the cache between them")
    done = rehearse("run", "scenarios/", "--junit", str(tmp_path / "demo.xml"), "--label", "demo in CI",
                    *against(console_server), database_url=console_server.env["DATABASE_URL"])
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    cases = junit_cases(tmp_path / "demo.xml")
    assert len(cases) == len(load_all([SCENARIOS])) >= 30
    assert not [case.get("name") for case in cases if case.find("failure") is not None]
    assert "scenarios passed every time" in done.stdout and "first word p50" in done.stdout
    [(model, attempts, passed)] = console_server.sql(
        "SELECT model, attempts, passed FROM rehearse_run WHERE label = 'demo in CI'")
    assert (model, attempts, passed) == ("fintalk-demo", len(cases), len(cases))


@pytest.mark.timeout(600)
def test_every_scenario_passes_on_the_bedrock_standin(console_server, tmp_path):
    with StandInServer(BedrockStandIn()) as standin:
        done = rehearse("run", "scenarios/", "--llm", "bedrock", "--bedrock-endpoint", standin.url,
                        "--script-standin", standin.url, "--junit", str(tmp_path / "bedrock.xml"),
                        "--label", "stand-in in CI", database_url=console_server.env["DATABASE_URL"])
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    cases = junit_cases(tmp_path / "bedrock.xml")
    assert len(cases) >= 30 and all(case.find("failure") is None for case in cases)
    [(model,)] = console_server.sql("SELECT model FROM rehearse_run WHERE label = 'stand-in in CI'")
    assert model == "amazon.nova-lite-v1:0"  # the model the server named in its chunks


# --- A false expectation, repeated ---------------------------------------------------------------

FALSE_SCENARIO = """\
flow: block
description: Expects the blocked card to stay active, which is false.
caller: {phone: "+15550100001"}
turns:
  - say: "I lost my card 4242"
    expect:
      says: ["now blocked"]
      tools: [{tool: block_credit_card, outcome: blocked}]
    model:
      - tools: [{block_credit_card: {card_last4: "4242", reason: lost}}]
expect:
  state: {cards: {"4242": active}}
"""


@pytest.mark.timeout(300)
def test_a_false_expectation_fails_with_a_clear_message_on_every_attempt(console_server, tmp_path):
    (tmp_path / "block-stays-active.yaml").write_text(FALSE_SCENARIO)
    done = rehearse("run", str(tmp_path), "--repeat", "3", "--junit", str(tmp_path / "false.xml"),
                    "--label", "false", *against(console_server), database_url=console_server.env["DATABASE_URL"])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL  block-stays-active  0/3 (0%)" in done.stdout
    assert "bank: card 4242 is active: it is ['blocked']" in done.stdout, done.stdout
    failures = [case.find("failure") for case in junit_cases(tmp_path / "false.xml")]
    assert len(failures) == 3 and all(f is not None and "card 4242 is active" in f.text for f in failures)
    assert console_server.sql("SELECT attempts, passed FROM rehearse_run WHERE label = 'false'") == [(3, 0)]


def test_a_broken_scenario_file_stops_the_run_before_anything_is_sent(tmp_path):
    (tmp_path / "typo.yaml").write_text("caller: {phone: '+15550100001'}\nturns: [{say: hi, expct: {}}]\n")
    done = rehearse("run", str(tmp_path), "--no-store", database_url="sqlite:///" + str(tmp_path / "none.sqlite3"))
    assert done.returncode == 2 and "typo.yaml: turns[0]: unknown key(s) ['expct']" in done.stderr


# --- A simulated caller and a judge on Bedrock (a Converse stand-in) -----------------------------

SIMULATED = """\
flow: loans
description: A simulated first-time buyer asks about home loans; the judge reads the call.
caller:
  phone: "+15550199999"
  persona: A first-time home buyer, polite and brief.
  goal: Find out which home loans the bank offers.
  max_turns: 4
expect:
  tools: [{tool: get_loan_products, outcome: ok}]
  judge: The agent named at least one home loan product.
"""


@pytest.mark.timeout(300)
def test_a_simulated_caller_and_a_judge_talk_converse_to_bedrock(console_server, tmp_path):
    (tmp_path / "simulated-home-loans.yaml").write_text(SIMULATED)
    with StandInServer(BedrockStandIn()) as caller:
        caller.app.script(Reply(text="Hi, which home loans do you offer?"), Reply(text="[DONE]"),
                          Reply(text='{"pass": true, "reason": "It named the Fixed Rate Home Loan."}'))
        done = rehearse("run", str(tmp_path), "--caller-model", "anthropic.claude-3-5-haiku-20241022-v1:0",
                        "--judge-model", "amazon.nova-pro-v1:0", "--caller-endpoint", caller.url,
                        "--label", "simulated", *against(console_server),
                        database_url=console_server.env["DATABASE_URL"])
        requests = list(caller.app.requests)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [r.path for r in requests] == [
        "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse",
        "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse",
        "/model/amazon.nova-pro-v1%3A0/converse"] or [r.model for r in requests] == [
        "anthropic.claude-3-5-haiku-20241022-v1:0"] * 2 + ["amazon.nova-pro-v1:0"]
    persona = requests[0].body["system"][0]["text"]
    assert "first-time home buyer" in persona and "Find out which home loans" in persona
    # The caller model hears the agent's words as its user turns.
    assert "Fixed Rate Home Loan" in requests[1].body["messages"][-1]["content"][0]["text"]
    assert "Caller: Hi, which home loans do you offer?" in requests[2].body["messages"][0]["content"][0]["text"]
    assert "named at least one home loan" in requests[2].body["system"][0]["text"]
    [(transcript,)] = console_server.sql(
        "SELECT r.transcript FROM rehearse_result r JOIN rehearse_run u ON r.run_id = u.id WHERE u.label = 'simulated'")
    assert "Hi, which home loans do you offer?" in str(transcript)


# --- A recorded call becomes a scenario, and the scenario passes ---------------------------------

def a_recorded_call(server) -> int:
    """A real call on the demo server: a dispute after verification by code."""
    from rehearse.conversation import Conversation
    from rehearse.bank_db import codes_sent

    server.manage("seed_demo", "--reset")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30) as client:
        call = Conversation(client, call_id="call-to-replay-1", phone="+15550100001")
        call.say("I don't recognise the Electronics Hub charge")
        call.say("Yes")
        assert "opened a dispute" in call.say(f"User's Keypad Entry: {codes_sent(server.sms)[-1]}").text
    from tests.support.wait import wait_until

    return wait_until(lambda: server.sql("SELECT c.id FROM calls_call c WHERE c.call_id = 'call-to-replay-1' "
                                         "AND (SELECT count(*) FROM calls_turn t WHERE t.call_id = c.id) = 3"),
                      timeout=10)[0][0]


@pytest.mark.timeout(300)
def test_a_recorded_call_becomes_a_scenario_from_its_page_and_passes_when_replayed(console_server, tmp_path):
    pk = a_recorded_call(console_server)
    with signed_in(console_server) as staff:
        page = staff.get(f"/console/calls/{pk}/")
        assert "Make a scenario from this call" in page.text
        token = re.search(r'id="make-scenario">\s*<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)"',
                          page.text).group(1)
        assert staff.get(f"/console/calls/{pk}/scenario/").status_code == 405
        assert staff.post(f"/console/calls/{pk}/scenario/", headers={"Origin": console_server.url}).status_code == 403
        made = staff.post(f"/console/calls/{pk}/scenario/", data={"csrfmiddlewaretoken": token},
                          headers={"Origin": console_server.url})
    assert made.status_code == 201, made.text[:1000]
    [path] = console_server.recorded.glob("*.yaml")
    assert path.name == "recorded-call-to-replay-1.yaml" and str(path) in made.text
    scenario = yaml.safe_load(path.read_text())
    assert [turn["say"] for turn in scenario["turns"]] == [
        "I don't recognise the Electronics Hub charge", "Yes", "User's Keypad Entry: {code}"]
    assert scenario["turns"][2]["expect"]["tools"] == [{"tool": "verify_code", "outcome": "verified"},
                                                       {"tool": "open_dispute", "outcome": "created"}]
    assert codes_in(path.read_text()) == [] and "5550100001" not in made.text.replace(scenario["caller"]["phone"], "")
    with signed_in(console_server, "plain-staff") as plain:  # staff, but without the permission
        page = plain.get(f"/console/calls/{pk}/")
        assert page.status_code == 200 and "Make a scenario" not in page.text
        token = plain.cookies["csrftoken"]
        refused = plain.post(f"/console/calls/{pk}/scenario/", data={"csrfmiddlewaretoken": token},
                             headers={"Origin": console_server.url})
        assert refused.status_code == 403
    assert httpx.post(console_server.url + f"/console/calls/{pk}/scenario/").status_code in (302, 403)
    replay = rehearse("run", str(path), "--label", "replay", *against(console_server),
                      database_url=console_server.env["DATABASE_URL"])
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "PASS  recorded-call-to-replay-1" in replay.stdout


def codes_in(text: str) -> list[str]:
    return re.findall(r"(?<!\d)\d{6}(?!\d)", text)


# --- The console: runs, a run, a scenario's history, two runs compared ---------------------------

@pytest.mark.timeout(300)
def test_the_console_lists_runs_shows_a_scenarios_history_and_compares_two_runs(console_server, tmp_path):
    (tmp_path / "block-stays-active.yaml").write_text(FALSE_SCENARIO)
    before = rehearse("run", str(tmp_path), "--label", "console before", *against(console_server),
                      database_url=console_server.env["DATABASE_URL"])
    (tmp_path / "block-stays-active.yaml").write_text(FALSE_SCENARIO.replace('"4242": active', '"4242": blocked'))
    after = rehearse("run", str(tmp_path), "--label", "console after", *against(console_server),
                     database_url=console_server.env["DATABASE_URL"])
    assert (before.returncode, after.returncode) == (1, 0), after.stdout
    [(a,)] = console_server.sql("SELECT id FROM rehearse_run WHERE label = 'console before'")
    [(b,)] = console_server.sql("SELECT id FROM rehearse_run WHERE label = 'console after'")
    assert httpx.get(console_server.url + "/console/rehearsals/").status_code == 302  # staff only
    with signed_in(console_server) as staff:
        runs = staff.get("/console/rehearsals/")
        assert runs.status_code == 200 and "console before" in runs.text and "0/1 (0%)" in runs.text
        assert runs.headers["X-Frame-Options"] == "DENY"
        run = staff.get(f"/console/rehearsals/{a}/")
        assert "bank: card 4242 is active: it is [&#x27;blocked&#x27;]" in run.text and "I lost my card 4242" in run.text
        history = staff.get("/console/rehearsals/scenarios/block-stays-active/")
        assert f'href="/console/rehearsals/{a}/"' in history.text and f'href="/console/rehearsals/{b}/"' in history.text
        assert "failed" in history.text and "passed" in history.text
        diff = staff.get(f"/console/rehearsals/diff/?a={a}&b={b}")
        assert diff.status_code == 200 and 'class="change-better"' in diff.text
        assert "bank: card 4242 is active" in diff.text  # fixed between the two runs
        assert staff.get("/console/rehearsals/diff/?a=999999&b=1").status_code == 404
