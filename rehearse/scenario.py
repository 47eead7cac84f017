"""A scenario file (YAML) read into objects, and every mistake in it named with its file and key.

A scenario is one call: who rings (or whom the bank rings), what the caller says turn by turn (or
a persona and a goal for a simulated caller), and what must hold: tools called or not, the bank's
records afterwards, words never said, how soon the first word comes. The format is in
scenarios/README.md. A mistake in a file is a `ScenarioError` before anything is sent, never a
scenario that passes because a key was misspelt.
"""
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# Vapi's call types (each call has a call.id, which finds its record in the calls app).
CALL_TYPES = {"inbound": "inboundPhoneCall", "outbound": "outboundPhoneCall", "web": "webCall"}
# What Vapi offers the model as its own tools (client tools: the call records keep their arguments).
CLIENT_TOOLS = {
    "transferCall": {"type": "function", "function": {
        "name": "transferCall", "description": "Transfer the call to a person.",
        "parameters": {"type": "object", "required": ["destination"],
                       "properties": {"destination": {"type": "string", "enum": ["+15550100999"]}}}}},
    "endCall": {"type": "function", "function": {
        "name": "endCall", "description": "End the call.", "parameters": {"type": "object", "properties": {}}}},
}
NEVER_SAY = ("figures_before_verification", "card_numbers", "phone_numbers", "other_customers", "markdown")
STATE_KEYS = {"cards", "disputes", "payments", "replacements", "audit", "unchanged", "outbound", "genuine",
              "balances", "promises"}
DEFAULT_FIRST_WORD_MS = 4000.0


class ScenarioError(ValueError):
    """A scenario file that cannot be run as written (the message names the file and the key)."""


@dataclass(frozen=True)
class ToolExpectation:
    tool: str
    outcome: str | None = None
    args: dict | None = None  # client tools only: the call records keep a bank tool's outcome, not its arguments

    def describe(self) -> str:
        extra = f" -> {self.outcome}" if self.outcome else ""
        return f"{self.tool}{extra}" + (f" {self.args}" if self.args else "")


@dataclass(frozen=True)
class ModelRound:
    """What the scripted model (the Bedrock stand-in) answers in one model call: words, then tool
    calls. After a round with tools comes one that says the tools' results."""

    tools: tuple[tuple[str, dict], ...] = ()
    say: str | None = None


@dataclass
class TurnExpect:
    says: list[str] = field(default_factory=list)
    says_not: list[str] = field(default_factory=list)
    tools: list[ToolExpectation] = field(default_factory=list)
    no_tools: list[str] | bool = field(default_factory=list)  # True: no tool at all
    first_word_ms: float | None = None


@dataclass
class Turn:
    say: str | None  # None: the call's opening (the agent speaks first)
    expect: TurnExpect = field(default_factory=TurnExpect)
    model: list[ModelRound] = field(default_factory=list)


@dataclass
class Caller:
    phone: str | None = None
    call: str = "inbound"
    client_tools: list[str] = field(default_factory=list)
    outbound: dict | None = None
    persona: str | None = None
    goal: str | None = None
    max_turns: int = 8


@dataclass
class Scenario:
    name: str
    path: Path
    flow: str
    description: str
    caller: Caller
    turns: list[Turn]
    tools: list[ToolExpectation] = field(default_factory=list)
    no_tools: list[str] = field(default_factory=list)
    state: dict = field(default_factory=dict)
    never_say: list[str] = field(default_factory=list)
    never_say_patterns: list[str] = field(default_factory=list)
    first_word_ms: float = DEFAULT_FIRST_WORD_MS
    judge: str | None = None

    @property
    def simulated(self) -> bool:
        return not self.turns


def load(path: Path) -> Scenario:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping with caller, turns and expect.")
    return _Reader(Path(path)).scenario(data)


def load_all(paths: list[Path]) -> list[Scenario]:
    """Every *.yaml under the given files and folders, sorted by name; names must be unique."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(path.rglob("*.yaml")) + sorted(path.rglob("*.yml")))
        elif path.exists():
            files.append(path)
        else:
            raise ScenarioError(f"{path}: no such file or folder.")
    scenarios = [load(file) for file in files]
    seen: dict[str, Path] = {}
    for scenario in scenarios:
        if scenario.name in seen:
            raise ScenarioError(f"{scenario.path}: the name {scenario.name!r} is already used by {seen[scenario.name]}.")
        seen[scenario.name] = scenario.path
    return sorted(scenarios, key=lambda s: s.name)


class _Reader:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, where: str, message: str):
        raise ScenarioError(f"{self.path}: {where}: {message}")

    def keys(self, where: str, data, allowed: set[str]) -> dict:
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.fail(where, "expected a mapping.")
        unknown = set(data) - allowed
        if unknown:
            self.fail(where, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}.")
        return data

    def strings(self, where: str, value) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.fail(where, "expected a string or a list of strings.")
        return value

    def scenario(self, data: dict) -> Scenario:
        data = self.keys("top level", data, {"name", "flow", "description", "caller", "turns", "expect"})
        caller = self.caller(data.get("caller"))
        turns = [self.turn(f"turns[{i}]", turn, caller) for i, turn in enumerate(data.get("turns") or [])]
        if not turns and not (caller.persona and caller.goal):
            self.fail("turns", "give the caller's turns, or a persona and a goal for a simulated caller.")
        expect = self.keys("expect", data.get("expect"), {
            "tools", "no_tools", "state", "never_say", "first_word_ms", "judge"})
        never = expect.get("never_say", "default")
        names, patterns = self.never_say(never, caller)
        state = self.keys("expect.state", expect.get("state"), STATE_KEYS)
        return Scenario(
            name=str(data.get("name") or self.path.stem), path=self.path, flow=str(data.get("flow") or "other"),
            description=str(data.get("description") or "").strip(), caller=caller, turns=turns,
            tools=self.tools("expect.tools", expect.get("tools"), caller),
            no_tools=self.strings("expect.no_tools", expect.get("no_tools")), state=state,
            never_say=names, never_say_patterns=patterns,
            first_word_ms=float(expect.get("first_word_ms", DEFAULT_FIRST_WORD_MS)),
            judge=expect.get("judge"))

    def caller(self, data) -> Caller:
        data = self.keys("caller", data, {"phone", "call", "client_tools", "outbound", "persona", "goal", "max_turns"})
        call = data.get("call", "inbound")
        if call not in CALL_TYPES:
            self.fail("caller.call", f"{call!r} is not one of {sorted(CALL_TYPES)}.")
        client_tools = self.strings("caller.client_tools", data.get("client_tools"))
        for tool in client_tools:
            if tool not in CLIENT_TOOLS:
                self.fail("caller.client_tools", f"{tool!r}: the client tools are {sorted(CLIENT_TOOLS)}.")
        outbound = data.get("outbound")
        if outbound is not None:
            outbound = self.keys("caller.outbound", outbound, {"purpose", "merchant", "card"})
            if outbound.get("purpose") not in ("fraud_alert", "payment_reminder"):
                self.fail("caller.outbound.purpose", "fraud_alert or payment_reminder.")
            if call != "outbound":
                self.fail("caller.outbound", "only an outbound call (call: outbound) has a request.")
        phone = data.get("phone")
        return Caller(phone=str(phone) if phone else None, call=call, client_tools=client_tools, outbound=outbound,
                      persona=data.get("persona"), goal=data.get("goal"), max_turns=int(data.get("max_turns", 8)))

    def turn(self, where: str, data, caller: Caller) -> Turn:
        if isinstance(data, str):
            data = {"say": data}
        data = self.keys(where, data, {"say", "expect", "model"})
        if "say" not in data:
            self.fail(where, "each turn has `say` (null for the call's opening, where the agent speaks first).")
        expect = self.keys(f"{where}.expect", data.get("expect"), {"says", "says_not", "tools", "no_tools",
                                                                    "first_word_ms"})
        no_tools = expect.get("no_tools", [])
        return Turn(
            say=data["say"] if data["say"] is None else str(data["say"]),
            expect=TurnExpect(
                says=self.strings(f"{where}.expect.says", expect.get("says")),
                says_not=self.strings(f"{where}.expect.says_not", expect.get("says_not")),
                tools=self.tools(f"{where}.expect.tools", expect.get("tools"), caller),
                no_tools=True if no_tools is True else self.strings(f"{where}.expect.no_tools", no_tools),
                first_word_ms=float(expect["first_word_ms"]) if "first_word_ms" in expect else None),
            model=self.model(f"{where}.model", data.get("model")))

    def tools(self, where: str, value, caller: Caller) -> list[ToolExpectation]:
        found = []
        for index, item in enumerate(value or []):
            if isinstance(item, str):
                item = {"tool": item}
            item = self.keys(f"{where}[{index}]", item, {"tool", "outcome", "args"})
            if "tool" not in item:
                self.fail(f"{where}[{index}]", "name the tool (`tool:`).")
            args = item.get("args")
            if args is not None and item["tool"] not in CLIENT_TOOLS:
                self.fail(f"{where}[{index}].args", f"the call records keep the outcome of the bank tool "
                          f"{item['tool']}, not its arguments: check what the bank did with `expect.state` "
                          f"(and the outcome) instead.")
            found.append(ToolExpectation(str(item["tool"]), item.get("outcome"), args))
        return found

    def model(self, where: str, value) -> list[ModelRound]:
        rounds = []
        for index, item in enumerate(value or []):
            item = self.keys(f"{where}[{index}]", item, {"tools", "say"})
            tools = []
            for tool in item.get("tools") or []:
                if isinstance(tool, str):
                    tool = {tool: {}}
                if not isinstance(tool, dict) or len(tool) != 1:
                    self.fail(f"{where}[{index}].tools", "each tool is `name` or `{name: {arguments}}`.")
                [(name, arguments)] = tool.items()
                tools.append((str(name), dict(arguments or {})))
            rounds.append(ModelRound(tuple(tools), item.get("say")))
        return rounds

    def never_say(self, value, caller: Caller) -> tuple[list[str], list[str]]:
        if value == "default":
            # An outbound call names the flagged purchase or the bill before any verification, by design.
            return [n for n in NEVER_SAY if not (caller.call == "outbound" and n == "figures_before_verification")], []
        names, patterns = [], []
        for index, item in enumerate(value or []):
            if isinstance(item, dict):
                item = self.keys(f"expect.never_say[{index}]", item, {"pattern"})
                patterns.append(str(item["pattern"]))
            elif item in NEVER_SAY:
                names.append(item)
            else:
                self.fail(f"expect.never_say[{index}]", f"{item!r}: use one of {list(NEVER_SAY)} or {{pattern: ...}}.")
        return names, patterns
