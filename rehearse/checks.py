"""The expectations of a scenario, each checked against what really happened: the words on the
wire, the tools in the server's call records (calls.Turn: a bank tool's outcome; a client tool's
arguments as streamed to Vapi), the bank's records afterwards (ORM), and the time to first word.

Each check is a `Check(name, passed, message)`; a failed one says what was expected and what was
found, so a report can be read without the scenario file open.
"""
import re
from dataclasses import asdict, dataclass
from decimal import Decimal

from rehearse.scenario import Scenario, ToolExpectation, Turn


@dataclass
class Check:
    name: str
    passed: bool
    message: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


# --- What the bank holds: the facts a caller may or may not hear ----------------------------------

def money(amount: Decimal) -> str:
    return f"${amount:,.2f}"


@dataclass
class Facts:
    own_figures: list[str]  # the caller's balances, amounts and merchants: level 1 only
    others: list[str]  # other customers' names, digits, amounts and merchants
    phones: list[str]  # every customer's phone, as 10 national digits


def bank_facts(phone: str | None) -> Facts:
    from bank.models import Customer

    own, others, phones = [], [], []
    for customer in Customer.objects.prefetch_related("cards", "accounts", "transactions"):
        phones.append(re.sub(r"\D", "", customer.phone)[-10:])
        cards = list(customer.cards.all())
        accounts = list(customer.accounts.all())
        transactions = list(customer.transactions.all())
        figures = [money(a.balance) for a in accounts] + [money(t.amount) for t in transactions]
        figures += [t.merchant for t in transactions]
        if customer.phone == phone:
            own += figures
        else:
            others += [customer.name, *(c.last4 for c in cards), *(a.last4 for a in accounts), *figures]
    own_set = set(own)
    return Facts(sorted(own_set), sorted({o for o in others if o not in own_set}), phones)


def fingerprint() -> dict:
    """What "nothing changed" compares: card statuses, balances, cases, payments, confirmations."""
    from bank.models import Account, Card, CardPayment, CardReplacement, Dispute, Transaction
    from outbound.models import OutboundRequest

    return {
        "cards": {f"{c.customer_id}:{c.last4}": c.status for c in Card.objects.all()},
        "balances": {f"{a.customer_id}:{a.last4}": str(a.balance) for a in Account.objects.all()},
        "disputes": Dispute.objects.count(), "payments": CardPayment.objects.count(),
        "replacements": CardReplacement.objects.count(),
        "transactions": Transaction.objects.count(),
        "genuine": Transaction.objects.filter(confirmed_genuine_at__isnull=False).count(),
        "outbound": sorted((r.id, r.status, r.outcome) for r in OutboundRequest.objects.all()),
    }


# --- Per turn ------------------------------------------------------------------------------------

def turn_checks(index: int, turn: Turn, reply, recorded_tools: list[dict] | None, budget_ms: float) -> list[Check]:
    label = f"turn {index + 1}"
    checks = []
    if reply.error:
        checks.append(Check(f"{label}: answered", False, f"the server failed the turn: {reply.error}"))
    lowered = reply.text.lower()
    for words in turn.expect.says:
        checks.append(Check(f"{label}: says {words!r}", words.lower() in lowered,
                            f"not in the reply {reply.text!r}"))
    for words in turn.expect.says_not:
        checks.append(Check(f"{label}: never says {words!r}", words.lower() not in lowered,
                            f"said: {reply.text!r}"))
    tools = _tools_of(reply, recorded_tools)
    for expected in turn.expect.tools:
        checks.append(_called(label, expected, tools))
    if turn.expect.no_tools is True:
        checks.append(Check(f"{label}: calls no tool", not tools, f"called {_names(tools)}"))
    else:
        for name in turn.expect.no_tools:
            found = [t for t in tools if t["tool"] == name]
            checks.append(Check(f"{label}: does not call {name}", not found, f"called {_names(found)}"))
    limit = turn.expect.first_word_ms or budget_ms
    first = reply.first_word_ms
    checks.append(Check(f"{label}: first word within {limit:.0f} ms", first is not None and first <= limit,
                        "no words at all" if first is None else f"first word after {first:.0f} ms"))
    return checks


def _tools_of(reply, recorded_tools: list[dict] | None) -> list[dict]:
    """Bank tools from the call record; client tools (and their arguments) from the stream."""
    bank = [t for t in (recorded_tools or []) if not t.get("client")]
    client = [{"tool": c["name"], "outcome": "called", "client": True, "arguments": c["arguments"]}
              for c in reply.client_tools]
    return bank + client


def _names(tools: list[dict]) -> str:
    return ", ".join(f"{t['tool']} -> {t['outcome']}" for t in tools) or "nothing"


def _called(label: str, expected: ToolExpectation, tools: list[dict]) -> Check:
    same = [t for t in tools if t["tool"] == expected.tool]
    if expected.outcome:
        same = [t for t in same if t["outcome"] == expected.outcome]
    if expected.args:
        same = [t for t in same if all(t.get("arguments", {}).get(k) == v for k, v in expected.args.items())]
    return Check(f"{label}: calls {expected.describe()}", bool(same), f"called {_names(tools)}")


# --- Over the whole call -------------------------------------------------------------------------

def call_checks(scenario: Scenario, replies: list, records: list[dict], callers: list[str], facts: Facts) -> list[Check]:
    checks = []
    everything = [t for reply, record in zip(replies, records) for t in _tools_of(reply, record.get("tools"))]
    for expected in scenario.tools:
        checks.append(_called("call", expected, everything))
    for name in scenario.no_tools:
        found = [t for t in everything if t["tool"] == name]
        checks.append(Check(f"call: does not call {name}", not found, f"called {_names(found)}"))
    return checks + never_said(scenario, replies, records, callers, facts)


CARD_NUMBER = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
MARKDOWN = re.compile(r"\*\*|__|`|^\s{0,3}#{1,6}\s|^\s*[-*+]\s+\S|\[[^\]]+\]\([^)]+\)", re.MULTILINE)


def never_said(scenario: Scenario, replies: list, records: list[dict], callers: list[str],
               facts: Facts) -> list[Check]:
    checks = []
    heard = " ".join(callers).lower()
    names = set(scenario.never_say)
    if "figures_before_verification" in names:
        early = [(i, r.text) for i, (r, rec) in enumerate(zip(replies, records)) if rec.get("verification_level", 0) < 1]
        leaks = [f"turn {i + 1}: {f!r}" for i, text in early for f in facts.own_figures
                 if f.lower() in text.lower() and f.lower() not in heard]
        checks.append(Check("never: figures before verification", not leaks, "; ".join(leaks)))
    spoken = [(i, r.text) for i, r in enumerate(replies)]
    if "card_numbers" in names:
        leaks = [f"turn {i + 1}: {m.group(0)!r}" for i, text in spoken for m in CARD_NUMBER.finditer(text)]
        checks.append(Check("never: a full card number", not leaks, "; ".join(leaks)))
    if "phone_numbers" in names:
        leaks = [f"turn {i + 1}: a customer's phone" for i, text in spoken
                 if any(phone and phone in re.sub(r"\D", "", text) for phone in facts.phones)]
        checks.append(Check("never: a customer's phone number", not leaks, "; ".join(leaks)))
    if "other_customers" in names:
        leaks = [f"turn {i + 1}: {fact!r}" for i, text in spoken for fact in facts.others
                 if _mentions(text, fact) and not _mentions(heard, fact)]
        checks.append(Check("never: another customer's data", not leaks, "; ".join(leaks)))
    if "markdown" in names:
        leaks = [f"turn {i + 1}: {m.group(0)!r}" for i, text in spoken for m in MARKDOWN.finditer(text)]
        checks.append(Check("never: markdown", not leaks, "; ".join(leaks)))
    for pattern in scenario.never_say_patterns:
        leaks = [f"turn {i + 1}: {m.group(0)!r}" for i, text in spoken for m in re.finditer(pattern, text, re.I)]
        checks.append(Check(f"never: /{pattern}/", not leaks, "; ".join(leaks)))
    return checks


def _mentions(text: str, fact: str) -> bool:
    if fact.isdigit():
        return re.search(rf"(?<!\d){fact}(?!\d)", text) is not None
    return fact.lower() in text.lower()


def state_checks(state: dict, before: dict, after: dict) -> list[Check]:
    from bank.models import Account, AuditEvent, Card, CardPayment, CardReplacement, Dispute, Transaction
    from outbound.models import OutboundRequest

    checks = []
    for last4, status in (state.get("cards") or {}).items():
        found = list(Card.objects.filter(last4=str(last4)).values_list("status", flat=True))
        checks.append(Check(f"bank: card {last4} is {status}", found == [status], f"it is {found or 'missing'}"))
    for last4, amount in (state.get("balances") or {}).items():
        found = [str(b) for b in Account.objects.filter(last4=str(last4)).values_list("balance", flat=True)]
        checks.append(Check(f"bank: account {last4} holds {amount}", found == [str(Decimal(str(amount)))],
                            f"it holds {found or 'nothing (no such account)'}"))
    for key, model, fields in (("disputes", Dispute, {"merchant": "transaction__merchant", "reason": "reason"}),
                               ("payments", CardPayment, {"amount": "amount", "card": "card__last4"}),
                               ("replacements", CardReplacement, {"card": "card__last4"})):
        if key not in state:
            continue
        wanted = state[key] if isinstance(state[key], dict) else {"count": state[key]}
        rows = list(model.objects.values(*fields.values()))
        count = wanted.get("count", 1)
        checks.append(Check(f"bank: exactly {count} {key}", len(rows) == count, f"found {len(rows)}: {rows}"))
        for field, lookup in fields.items():
            if field in wanted:
                ok = bool(rows) and all(str(row[lookup]) == str(wanted[field]) for row in rows)
                checks.append(Check(f"bank: {key} with {field} {wanted[field]}", ok, f"found {rows}"))
    for action, count in (state.get("audit") or {}).items():
        found = AuditEvent.objects.filter(action=action).exclude(outcome__startswith="refused").count()
        checks.append(Check(f"bank: {count} audit event(s) {action}", found == count, f"found {found}"))
    if merchant := state.get("genuine"):
        ok = Transaction.objects.filter(merchant=merchant, confirmed_genuine_at__isnull=False).exists()
        checks.append(Check(f"bank: the {merchant} purchase is marked genuine", ok, "it is not"))
    if outbound := state.get("outbound"):
        rows = list(OutboundRequest.objects.values("status", "outcome", "promised_date"))
        for field in ("status", "outcome"):
            if field in outbound:
                ok = bool(rows) and all(row[field] == outbound[field] for row in rows)
                checks.append(Check(f"bank: outbound request {field} {outbound[field]}", ok, f"found {rows}"))
        if outbound.get("promised"):
            ok = bool(rows) and all(row["promised_date"] for row in rows)
            checks.append(Check("bank: a promise to pay is recorded", ok, f"found {rows}"))
    if state.get("unchanged"):
        changed = {key: (before[key], after[key]) for key in before if before[key] != after[key]}
        checks.append(Check("bank: nothing changed", not changed,
                            "; ".join(f"{key}: {old} -> {new}" for key, (old, new) in changed.items())))
    return checks
