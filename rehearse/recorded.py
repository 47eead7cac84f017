"""A recorded call turned into a scripted scenario ("turn every failed production call into a
regression test"): the caller's masked words turn by turn, the tools each turn called with their
outcomes, and the never-said checks. A one-time code the caller read back (masked as ******) is
written `{code}`, so the replay reads back the code the replay sends.

The scenario is written to FINTALK_RECORDED_SCENARIOS_DIR for review: a person decides what the call
should have done (add `says`, `state`), then moves it into scenarios/.
"""
import re
from pathlib import Path

import yaml
from django.conf import settings

from calls.models import Call

CODE_MASK = re.compile(r"\*{6}")
CALL_TYPES = {Call.Type.INBOUND: "inbound", Call.Type.OUTBOUND: "outbound", Call.Type.WEB: "web"}


def scenario_from_call(call: Call) -> dict:
    caller: dict = {"call": CALL_TYPES.get(call.type, "inbound")}
    if call.customer_id and call.customer.phone:
        caller["phone"] = call.customer.phone  # the bank's own record of its customer, to replay as them
    outbound = _outbound(call)
    if outbound:
        caller["outbound"] = outbound
    client_tools = sorted({tool["tool"] for turn in call.turns.all() for tool in turn.tools
                           if tool.get("client") and tool["tool"] in ("transferCall", "endCall")})
    if client_tools:
        caller["client_tools"] = client_tools
    turns = []
    for number, turn in enumerate(call.turns.order_by("started_at", "id")):
        words = CODE_MASK.sub("{code}", turn.caller_text) if turn.caller_text else None
        if words is None and number > 0:
            continue  # a turn without the caller's words past the opening (a retried request)
        expect: dict = {}
        bank_tools = [{"tool": t["tool"], "outcome": t["outcome"]} for t in turn.tools if not t.get("client")]
        client = [{"tool": t["tool"]} for t in turn.tools if t.get("client")]
        if bank_tools or client:
            expect["tools"] = bank_tools + client
        else:
            expect["no_tools"] = True
        turns.append({"say": words, "expect": expect})
    return {
        "flow": "recorded",
        "description": f"Made from call {call.call_id} ({call.get_outcome_display().lower()}, "
                       f"{call.started_at:%Y-%m-%d %H:%M} UTC). Review: add what the agent must say "
                       f"(`says`) and what the bank must hold afterwards (`state`).",
        "caller": caller,
        "turns": turns,
        "expect": {"never_say": ["card_numbers", "phone_numbers", "other_customers", "markdown"]
                   + (["figures_before_verification"] if caller["call"] != "outbound" else [])},
    }


def _outbound(call: Call) -> dict | None:
    from outbound.models import OutboundAttempt

    attempt = OutboundAttempt.objects.select_related("request__transaction", "request__card").filter(
        vapi_call_id=call.call_id).first()
    if not attempt:
        return None
    request = attempt.request
    if request.purpose == "fraud_alert" and request.transaction:
        return {"purpose": "fraud_alert", "merchant": request.transaction.merchant}
    if request.card:
        return {"purpose": "payment_reminder", "card": request.card.last4}
    return None


def write(call: Call) -> Path:
    folder = Path(settings.FINTALK_RECORDED_SCENARIOS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9-]+", "-", call.call_id.lower()).strip("-")[:80] or f"call-{call.pk}"
    path = folder / f"recorded-{slug}.yaml"
    header = f"# Made from the console's call page (call {call.pk}); the transcript is masked.\n"
    path.write_text(header + yaml.safe_dump(scenario_from_call(call), sort_keys=False, allow_unicode=True, width=100))
    return path
