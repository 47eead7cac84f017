"""How a bank action is declared once, and what follows from the declaration.

A bank action is something a caller can ask the agent to do: read their balances, block a card, pay
a bill. It is declared with `@action(...)` on a small function `(session, **arguments) -> Result`
that calls the bank's selectors or services. The declaration says:

- `level`: the verification level it needs (bank.verification; None: no level, because no account
  is involved or because it is how a level is reached). `perform` checks it before the function
  runs (raised, never lowered, by FINTALK_ACTION_LEVELS), and the services keep their own checks.
- `outcomes`: every outcome the function may return, each with what the caller hears (a
  `str.format` template over the result's facts), whether it means a change was committed
  (`commits`: never cut by a timeout, never reported failed) and whether it is a failed proof of
  identity (`identity_failure`: the verification-failure metric).
- `audit`: the audit trail's name for the action; a refusal of the action is audited under it.
- `confirms`: the action whose read-back this one carries out; it runs only in a later caller turn.
- `reads`: it only reads, so it may run beside the other tools of a model round.
- `purpose`: it exists only on an outbound call with this purpose (outbound/actions.py).
- `secrets`: arguments that are secrets (a one-time code): never sent to the model again.
- `hands_over`: it hands the caller to a person (the call's record and metrics say so).

From it follow the agent's tool (agent/tools: name, description and schema from the function), the
level check and refusals (`perform`), the metric's labels (the outcome names), the audit of
refusals, and what the demo model recognises (`recognise`: a sentence back to its outcome).
"""
import inspect
import logging
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from django.conf import settings

from bank.refusals import REFUSALS, Denied, Reason
from bank.verification import CallSession, require

logger = logging.getLogger("fintalk.bank")


@dataclass(frozen=True)
class Outcome:
    says: str  # what the caller hears: a str.format template over the result's facts
    commits: bool = False  # a change to the bank's data was committed
    identity_failure: bool = False  # the caller failed a proof of identity (wrong digits, code, answers)
    verifies: bool = False  # the call is verified (level 1) from now on


@dataclass(frozen=True)
class Result:
    outcome: str
    facts: Mapping = field(default_factory=dict)


def result(outcome, **facts) -> Result:
    """An action's result: its outcome (a name, or an enum whose value is one) and the facts it says."""
    return Result(getattr(outcome, "value", outcome), facts)


# Refusals every guarded action may end in (bank.refusals), with the words the caller hears.
REFUSED = {reason.value: Outcome(REFUSALS[reason], identity_failure=reason is Reason.LOCKED_OUT)
           for reason in Reason}


@dataclass(frozen=True)
class Action:
    name: str
    run: Callable[..., Result]
    description: str
    level: int | None
    outcomes: Mapping[str, Outcome]
    audit: str = ""
    confirms: str | None = None
    reads: bool = False
    purpose: str | None = None
    secrets: tuple[str, ...] = ()
    hands_over: bool = False

    def outcome(self, name: str) -> Outcome:
        return self.outcomes.get(name) or REFUSED[name]

    def says(self, done: Result) -> str:
        return self.outcome(done.outcome).says.format(**done.facts)

    @cached_property
    def committing(self) -> frozenset[str]:
        return frozenset(name for name, outcome in self.outcomes.items() if outcome.commits)

    @cached_property
    def _patterns(self) -> list[tuple[str, re.Pattern]]:
        """Patterns of the outcomes whose words say something of their own (not only "{listed}.")."""
        return [(name, _pattern(outcome.says)) for name, outcome in self.outcomes.items()
                if len(re.sub(r"\{\w+\}", "", outcome.says)) >= 12]


REGISTRY: dict[str, Action] = {}


def action(*, level: int | None, outcomes: Mapping[str, Outcome], audit: str = "", confirms: str | None = None,
           reads: bool = False, purpose: str | None = None, secrets: tuple[str, ...] = (), hands_over: bool = False):
    """Declare a bank action (see the module's docstring). The function's docstring is the model's
    description of it; its parameters after `session` are the tool's arguments."""

    def declare(run):
        if run.__name__ in REGISTRY:
            raise ValueError(f"The bank action {run.__name__} is declared twice.")
        REGISTRY[run.__name__] = Action(run.__name__, run, _docstring(run), level, dict(outcomes), audit, confirms,
                                        reads, purpose, secrets, hands_over)
        return run

    return declare


def _docstring(run) -> str:
    return inspect.cleandoc(run.__doc__ or run.__name__)


def perform(declared: Action, session: CallSession, arguments: Mapping) -> Result:
    """Run an action for a call: its level first (whatever the model asked for), then the function.
    A refusal is a result like any other (its outcome is the reason); one that guards an account (not
    verified, locked out) is audited under the action."""
    try:
        if declared.level is not None:
            require(session, max(declared.level, settings.FINTALK_ACTION_LEVELS.get(declared.name, 0)))
        done = declared.run(session, **arguments)
    except Denied as denied:
        done = Result(denied.reason.value, {})
        if declared.audit and denied.reason in (Reason.NOT_VERIFIED, Reason.NEEDS_SECOND_FACTOR, Reason.LOCKED_OUT):
            session.audit(declared.audit, f"refused:{denied.reason.value}")
    if done.outcome not in declared.outcomes and done.outcome not in REFUSED:
        raise ValueError(f"{declared.name} returned the undeclared outcome {done.outcome!r}.")
    return done


def _pattern(template: str) -> re.Pattern:
    """A template as a pattern that finds the sentence it makes in a text, its fields as named groups
    (a field that ends the template takes the rest of the text)."""
    parts, seen = [], set()
    pieces = list(string.Formatter().parse(template))
    for index, (literal, name, _, _) in enumerate(pieces):
        parts.append(re.escape(literal))
        if name is not None:
            last = index == len(pieces) - 1
            parts.append(f"(?P<{name}>{'.*' if last else '.+?'})" if name not in seen else ".+?")
            seen.add(name)
    return re.compile("".join(parts))


def recognise(text: str) -> list[tuple[Action, str, dict]]:
    """The actions' outcomes whose words are in `text` (what an agent said back), longest first, with
    the facts read from it: how the demo model follows the conversation without matching sentences."""
    found = []
    for declared in REGISTRY.values():
        for name, pattern in declared._patterns:
            if match := pattern.search(text):
                found.append((len(pattern.pattern), declared, name, match.groupdict()))
    for reason, outcome in REFUSED.items():
        if outcome.says in text:
            found.append((len(outcome.says), None, reason, {}))
    found.sort(key=lambda item: -item[0])
    return [(declared, name, facts) for _, declared, name, facts in found]
