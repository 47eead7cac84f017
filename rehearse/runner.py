"""Runs scenarios against a server, N times each, and returns what happened and what was checked.

Per scenario and attempt: the bank reset to the demo bank and the shared cache emptied (when the
runner owns them), a fresh `call.id`, an outbound request made through the API for an outbound
call, then each caller turn spoken as Vapi would, the server's call record read back, and every
expectation checked (rehearse.checks). A scripted caller is deterministic; a simulated one and
the judge talk to Bedrock (rehearse.bedrock).
"""
import datetime
import hashlib
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from rehearse import bank_db, checks
from rehearse.checks import Check
from rehearse.conversation import VAPI_SYSTEM, Conversation
from rehearse.scenario import Scenario, Turn


@dataclass
class Attempt:
    scenario: Scenario
    number: int
    call_id: str
    checks: list[Check] = field(default_factory=list)
    transcript: list[dict] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    cost_usd: float = 0.0  # the model's cost, as the server priced its turns
    pending: tuple | None = None  # what the checks need once the call records are written
    state_checks: list[Check] = field(default_factory=list)

    @property
    def tokens(self) -> tuple[int, int]:
        return (sum(t.get("tokens", [0, 0])[0] for t in self.transcript),
                sum(t.get("tokens", [0, 0])[1] for t in self.transcript))

    @property
    def passed(self) -> bool:
        return not self.error and all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    @property
    def first_word_ms(self) -> list[float]:
        return [turn["first_word_ms"] for turn in self.transcript if turn["first_word_ms"] is not None]


@dataclass
class Options:
    repeat: int = 1
    bank_database: bool = True  # the server's database is attached: reset it, read records and state
    reset: bool = True
    standin_url: str | None = None  # script the Bedrock stand-in before each turn (the project's CI)
    caller: object = None  # rehearse.bedrock.SimulatedCaller
    judge: object = None  # rehearse.bedrock.Judge
    first_word_ms: float | None = None  # overrides every scenario's budget
    record_timeout: float = 10.0


def instruction_hash(extra: str = "") -> str:
    """Which instructions were rehearsed: the server's instructions file and Vapi's system message."""
    text = Path(settings.FINTALK_SYSTEM_PROMPT_FILE).read_text() if Path(settings.FINTALK_SYSTEM_PROMPT_FILE).exists() else ""
    return hashlib.sha256((text + "\n--\n" + VAPI_SYSTEM + extra).encode()).hexdigest()[:12]


def run(scenarios: list[Scenario], server, options: Options, progress=None) -> list[Attempt]:
    """Every scenario, `options.repeat` times. An attempt's checks that read the call records are
    finished while the next attempt talks: the server writes its records a moment after a call."""
    attempts, waiting = [], None

    def finish(attempt):
        _guarded(attempt, lambda: _check_records(attempt, options))
        if progress:
            progress(attempt)

    with server.client() as client:
        for scenario in scenarios:
            for number in range(1, options.repeat + 1):
                attempt = run_one(scenario, number, server, client, options)
                attempts.append(attempt)
                if waiting:
                    finish(waiting)
                waiting = attempt
        if waiting:
            finish(waiting)
    return attempts


def run_one(scenario: Scenario, number: int, server, client, options: Options) -> Attempt:
    slug = re.sub(r"[^a-z0-9-]+", "-", scenario.name.lower())[:60]
    attempt = Attempt(scenario, number, f"rehearsal-{slug}-{uuid.uuid4().hex[:10]}")
    _guarded(attempt, lambda: _converse(attempt, server, client, options))
    return attempt


def _guarded(attempt: Attempt, step) -> None:
    started = time.perf_counter()
    try:
        step()
    except Exception as exc:  # a broken scenario run is a failed attempt with its reason, never a crash
        attempt.error = attempt.error or f"{type(exc).__name__}: {exc}"
    attempt.seconds += time.perf_counter() - started


def _converse(attempt: Attempt, server, client, options: Options) -> None:
    scenario, caller = attempt.scenario, attempt.scenario.caller
    if options.bank_database and options.reset:
        bank_db.reset_bank()
        server.fresh_cache()
    facts = checks.bank_facts(caller.phone) if options.bank_database else checks.Facts([], [], [])
    request_id = _outbound_request(server, caller, attempt.call_id) if caller.outbound else None
    before = checks.fingerprint() if options.bank_database else {}  # the request itself is not a change
    conversation = Conversation(client, call_id=attempt.call_id, phone=caller.phone, call=caller.call,
                                client_tools=caller.client_tools, request_id=request_id)
    budget = options.first_word_ms or scenario.first_word_ms
    turns, replies, said = list(scenario.turns), [], []
    simulated = scenario.simulated
    index = 0
    while True:
        if simulated:
            if index >= caller.max_turns:
                break
            if index == 0 and caller.call == "outbound":
                words = None  # the bank rang: the agent speaks first
            elif (words := options.caller.next_words(scenario, conversation.history)) is None:
                break  # the simulated caller is done
            turns.append(Turn(say=words))
        elif index >= len(turns):
            break
        turn = turns[index]
        words = _fill(turn.say, server, caller.phone)
        if options.standin_url:
            from rehearse import standin

            standin.script(options.standin_url, _fill_rounds(turn.model, server, caller.phone))
        reply = conversation.say(words)
        replies.append(reply)
        said.append(words or "")
        attempt.transcript.append({"caller": words, "agent": reply.text, "client_tools": reply.client_tools,
                                   "model": reply.model,
                                   "first_word_ms": reply.first_word_ms, "total_ms": round(reply.total_ms, 1),
                                   "error": reply.error, "tools": []})
        index += 1
    if options.bank_database:  # the bank's records now, before the next scenario resets them
        attempt.state_checks = checks.state_checks(scenario.state, before, checks.fingerprint())
    attempt.pending = (turns, replies, said, facts, budget)


def _check_records(attempt: Attempt, options: Options) -> None:
    """The checks, once the server has recorded the call (tools, verification level, tokens)."""
    if attempt.pending is None:
        return
    turns, replies, said, facts, budget = attempt.pending
    scenario, simulated = attempt.scenario, attempt.scenario.simulated
    records = _records(attempt.call_id, len(replies), options) if options.bank_database else [{}] * len(replies)
    for entry, record in zip(attempt.transcript, records):
        entry["tools"] = record.get("tools", [])
        entry["verification_level"] = record.get("verification_level")
        entry["tokens"] = [record.get("tokens_in") or 0, record.get("tokens_out") or 0]
        attempt.cost_usd += float(record.get("cost_usd") or 0)
    for i, (turn, reply, record) in enumerate(zip(turns, replies, records)):
        attempt.checks += checks.turn_checks(i, turn, reply, record.get("tools") if record else None, budget)
    if options.bank_database:
        if len([r for r in records if r]) < len(replies):
            attempt.checks.append(checks.Check("call: recorded by the server", False,
                                               f"{len([r for r in records if r])} of {len(replies)} turns in the "
                                               f"call records after {options.record_timeout:.0f} s"))
        attempt.checks += checks.call_checks(scenario, replies, records, said, facts) + attempt.state_checks
    if options.judge and (scenario.judge or simulated):
        attempt.checks.append(options.judge.check(scenario, attempt.transcript))


DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _fill(words: str | None, server, phone: str | None) -> str | None:
    """Placeholders in the caller's words (and the scripted model's arguments): `{code}`, the last
    one-time code texted to the caller, as they would read it (`{code_words}`: said as digit words,
    "four one seven ..."); `{next_friday}` (any weekday), that day's date, after today."""
    if words is None or "{" not in words:
        return words
    for index, name in enumerate(WEEKDAYS):
        if f"{{next_{name}}}" in words:
            today = datetime.date.today()
            day = today + datetime.timedelta(days=(index - today.weekday() - 1) % 7 + 1)
            words = words.replace(f"{{next_{name}}}", day.isoformat())
    if "{code" not in words:
        return words
    codes = bank_db.codes_sent(server.sms_path, phone)
    if not codes:
        raise RuntimeError("the scenario reads back a code ({code}), but no code was texted to the caller"
                           + ("" if server.sms_path else " (give --sms-file: where the server writes its codes)"))
    spoken = " ".join(DIGIT_WORDS[int(digit)] for digit in codes[-1])
    return words.replace("{code_words}", spoken).replace("{code}", codes[-1])


def _fill_rounds(rounds, server, phone):
    """The scripted model's arguments may read the code back too (`{code}`)."""
    from dataclasses import replace

    def fill(value):
        return _fill(value, server, phone) if isinstance(value, str) else value

    return [replace(r, tools=tuple((name, {k: fill(v) for k, v in args.items()}) for name, args in r.tools))
            for r in rounds]


def _outbound_request(server, caller, call_id: str) -> int:
    """The bank's fraud system (or the reminder job) asks for the call, through the REST endpoint;
    then the runner stands in for the worker and Vapi: the call is recorded as placed, as this
    Vapi call (the agent believes an outbound conversation only on the call the bank placed)."""
    from django.db.models import F
    from django.utils import timezone

    from bank.models import Card, Customer, Transaction
    from outbound.models import OutboundAttempt, OutboundRequest

    customer = Customer.objects.get(phone=caller.phone)
    body = {"purpose": caller.outbound["purpose"], "customer": customer.pk}
    if body["purpose"] == "fraud_alert":
        body["transaction"] = Transaction.objects.get(customer=customer, merchant=caller.outbound["merchant"]).pk
    else:
        body["card"] = Card.objects.get(customer=customer, last4=str(caller.outbound["card"])).pk
    with server.client(server.outbound_api_key or server.api_key) as client:  # the bank's systems' key (scope outbound)
        response = client.post("/api/outbound/requests", json=body)
    if response.status_code not in (200, 201):
        raise RuntimeError(f"the outbound request was refused: HTTP {response.status_code} {response.text[:300]}")
    request_id = response.json()["id"]
    OutboundRequest.objects.filter(pk=request_id).update(status=OutboundRequest.Status.CALLING,
                                                         attempts=F("attempts") + 1, next_attempt_at=None)
    number = OutboundRequest.objects.get(pk=request_id).attempts
    OutboundAttempt.objects.create(request_id=request_id, number=number, vapi_call_id=call_id,
                                   status=OutboundAttempt.Status.PLACED, placed_at=timezone.now())
    bank_db.close()
    return request_id


def _records(call_id: str, expected: int, options: Options) -> list[dict]:
    """The call's turns as the server recorded them (its writer batches them: wait up to a deadline)."""
    from calls.models import Turn as RecordedTurn

    deadline = time.monotonic() + options.record_timeout
    while True:
        rows = list(RecordedTurn.objects.filter(call__call_id=call_id).order_by("started_at", "id")
                    .values("tools", "verification_level", "ttft_ms", "tokens_in", "tokens_out", "cost_usd"))
        if len(rows) >= expected or time.monotonic() > deadline:
            bank_db.close()
            return rows + [{}] * (expected - len(rows))
        time.sleep(0.1)
