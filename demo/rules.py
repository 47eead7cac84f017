"""The demo model's rules: which bank tool a conversation calls next, or what to say.

Deterministic keyword rules over the Converse messages (see `demo.model`): loans, who am I, cards,
block a card, verification with a one-time code (read back or typed on the keypad), balances,
recent transactions, disputes, a replacement card, paying a card bill (read back, then a yes), and
a person. A step that needs details the caller has not given yet asks for them; a request that
needs verification is picked up again once the caller is verified. The caller's first name and
the purpose of an outbound call are read from the instructions the agent sends (the system prompt).

Why ~360 lines: one caller's conversation is followed by these rules together (a question asked,
its answer, the request verification held up); split, they would each need the others' words.
"""
import re

from agent.prompts import CALL_OPENING_QUERY
from bank.actions import recognise
from bank.actions.verification import SECURITY_QUESTIONS
from demo import step_up

GREETING = ("Hello, this is Fin, the Fintalk Bank demo assistant. I can tell you about our loans, "
            "your cards, balances and transactions, disputes, card payments, or block a lost card. How can I help?")
CAPABILITIES = ("I'm the Fintalk demo assistant, so I can only do a few things: tell you about our loans, your "
                "cards, balances and recent transactions, block a lost card and send a replacement, open a "
                "dispute, pay your card bill, or put you through to a person.")
REDIRECT = "I can't do that by phone. Please use the Fintalk mobile app or visit a branch for that."
ASK_LAST4 = "I can block your card. What are the last four digits of the card?"
ASK_CARD = "Which card is it, by its last four digits?"
ASK_CODE = "Please read me the six-digit code from the text message, or type it on your keypad."
ASK_ADDRESS = "To make sure it goes to the right place: what's the city or ZIP code of your address?"
ASK_AMOUNT = "How much would you like to pay: the minimum payment, the statement balance, or another amount?"
ASK_MERCHANT = "Which charge is it? Tell me the merchant and, if you can, the amount."

_FOUR_DIGITS = re.compile(r"(?<!\d)\d{4}(?!\d)")
_SPOKEN_DIGITS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                  "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_YES = re.compile(r"^\W*(yes|yeah|yep|sure|please do|go ahead|do it|ok(ay)?|correct|that's right)\b")
_MONEY = re.compile(r"\$?\d[\d,]*\.\d{2}\b|\$\d[\d,]*")
_NO = re.compile(r"^\W*(no|nope|not me|that wasn't me|i didn't|never)\b")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_PERSON = re.compile(r"\b(person|human|agent|representative|someone|operator)\b")

# What a caller may have asked for before they were verified, to be done once they are.
_RESUMABLE = frozenset({"get_account_balances", "get_recent_transactions", "open_dispute", "order_replacement_card",
                        "prepare_card_payment"})

# Intents that need the caller verified, in the order they are recognised.
_VERIFIED_INTENTS = step_up.INTENTS + (
    ("open_dispute", re.compile(r"\b(dispute|recogni[sz]e|didn't make|did not make|fraud\w*|charged twice|"
                                r"duplicate|never (arrived|received))\b")),
    ("prepare_card_payment", re.compile(r"\b(pay|make a payment|card bill)\b")),
    ("order_replacement_card", re.compile(r"\b(replacement|replace|new card)\b")),
    ("get_recent_transactions", re.compile(r"\b(transactions?|statement|recent (charges|activity)|spent)\b")),
    ("get_account_balances", re.compile(r"\b(balances?|how much (money )?(do i have|is in))\b")),
)


def text_of(message: dict) -> str:
    """A Converse message's text: its text blocks, or the text of the tool results it carries."""
    parts = []
    for block in message.get("content", ()):
        if "text" in block:
            parts.append(block["text"])
        elif "toolResult" in block:
            parts.extend(item.get("text", "") for item in block["toolResult"].get("content", ()))
    return " ".join(part for part in parts if part)


def only_tool_results(message: dict) -> bool:
    blocks = message.get("content", ())
    return any("toolResult" in block for block in blocks) and not any(block.get("text") for block in blocks)


def said(message: dict) -> str:
    """The caller's own words in a user message (a tool result merged into it is not)."""
    return " ".join(block["text"] for block in message.get("content", ()) if block.get("text"))


def _spoken_to_digits(text: str) -> str:
    spoken = re.sub(r"[a-z]+", lambda m: _SPOKEN_DIGITS.get(m.group(0), m.group(0)), text.lower())
    return re.sub(r"(?<=\d)[\s.,-]+(?=\d)", "", spoken)


def last4(text: str) -> str | None:
    """Four digits, typed or spoken ("four two four two", "42-42"), standing alone; amounts don't count."""
    match = _FOUR_DIGITS.search(_spoken_to_digits(_MONEY.sub(" ", text)))
    return match.group(0) if match else None


def code(text: str) -> str | None:
    """Six digits, typed, spoken or from the keypad ("User's Keypad Entry: 123456")."""
    match = re.search(r"(?<!\d)\d{6}(?!\d)", _spoken_to_digits(text))
    return match.group(0) if match else None


def _loan_kind(text: str) -> str | None:
    for kind, words in (("home", ("home", "house", "mortgage")), ("auto", ("car", "auto", "vehicle")),
                        ("personal", ("personal",)), ("student", ("student", "college")),
                        ("business", ("business",))):
        if any(word in text for word in words):
            return kind
    return None


def _dispute_reason(text: str) -> str:
    if re.search(r"twice|duplicate", text):
        return "duplicate"
    if re.search(r"wrong amount|overcharg", text):
        return "wrong_amount"
    if re.search(r"never (arrived|received)|not received|didn't (get|receive)", text):
        return "not_received"
    return "not_recognised"


def _merchant(original: str) -> str | None:
    for pattern in (r"\b(?:charge|payment|transaction|purchase) (?:at|from|to) ([A-Z][\w'&-]*(?: [A-Z][\w'&-]*)*)",
                    r"\b[Tt]he ([A-Z][\w'&-]*(?: [A-Z][\w'&-]*)*) (?:charge|payment|transaction|purchase|one)\b",
                    r"\b(?:at|from) ([A-Z][\w'&-]*(?: [A-Z][\w'&-]*)*)"):
        if match := re.search(pattern, original):
            return match.group(1)
    return None


_NOT_A_NAME = re.compile(r"\b(the|a|an|one|it|it's|its|was|is|that|this|charge|payment|purchase|transaction|"
                         r"from|at|to|for|please|um|uh|oh|i|think|dollars?|cents?)\b", re.IGNORECASE)


def _merchant_named(answer: str) -> str | None:
    """A merchant said on its own, as the answer to "Which charge is it?": "Shell", "Blue Bottle,
    4.75" (the words left once amounts and small words are gone, if there are one to four)."""
    words = _NOT_A_NAME.sub(" ", _MONEY.sub(" ", re.sub(r"\d+(?:[.,]\d+)?", " ", answer)))
    words = re.sub(r"[^\w'&-]+", " ", words).split()
    return " ".join(words) if 1 <= len(words) <= 4 else None


def _payment_amount(text: str) -> str | None:
    if "minimum" in text:
        return "minimum"
    if "statement" in text:
        return "statement balance"
    if re.search(r"\b(full|whole|everything|all of it)\b", text):
        return "full balance"
    match = _MONEY.search(text)
    return match.group(0).replace("$", "") if match else None


_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(rf"\b(\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{4}}|{_MONTHS} \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}|"
                   rf"\d{{1,2}}(?:st|nd|rd|th)? {_MONTHS},? \d{{4}})\b", re.IGNORECASE)


def security_answers(text: str) -> dict | None:
    """The three security answers in one reply: a date of birth (in digits or words), a ZIP code
    (five digits) and an account's last four digits, in any order."""
    born = _DATE.search(text)
    if not born:
        return None
    rest = text[:born.start()] + " " + text[born.end():]
    zip_code = re.search(r"(?<![\d$.,])\d{5}(?![\d.,]\d)", rest)
    if not zip_code:
        return None
    account = last4(rest[:zip_code.start()] + " " + rest[zip_code.end():])
    if not account:
        return None
    return {"date_of_birth": born.group(0), "postal_code": zip_code.group(0), "account_last4": account}


def _verified_step(intent: str, original: str, details: str) -> tuple[str, dict] | str:
    """The call for an intent that needs verification, or the question for what is missing.
    `original` holds the request; `details` every caller message since (answers to questions)."""
    if intent in step_up.STEPS:
        return step_up.step(intent, details)
    lowered = details.lower()
    if intent == "get_account_balances":
        return intent, {}
    if intent == "get_recent_transactions":
        digits = last4(original)
        return intent, ({"last4": digits} if digits else {})
    if intent == "open_dispute":
        merchant = _merchant(details)
        if not merchant:
            return ASK_MERCHANT
        arguments = {"merchant": merchant, "reason": _dispute_reason(lowered)}
        if amount := _MONEY.search(details):
            arguments["amount"] = amount.group(0).replace("$", "")
        return intent, arguments
    digits = last4(details)
    if not digits:
        return ASK_CARD
    if intent == "order_replacement_card":
        return ASK_ADDRESS
    amount = _payment_amount(lowered)
    return (intent, {"card_last4": digits, "amount": amount}) if amount else ASK_AMOUNT


def _pending_intent(users: list[str]) -> tuple[str, int] | None:
    """The latest caller request that needs verification, and where it was asked."""
    for index in range(len(users) - 1, -1, -1):
        for intent, pattern in _VERIFIED_INTENTS:
            if pattern.search(users[index].lower()):
                return intent, index
    return None


def heard(text: str) -> dict[tuple[str | None, str], dict]:
    """Which actions' outcomes an agent's words were, by their declarations (bank.actions), with the
    facts read from them: {(action, outcome): facts}; a refusal's action is None."""
    found: dict = {}
    for declared, outcome, facts in recognise(text):
        found.setdefault((declared.name if declared else None, outcome), facts)
    return found


def _held_up(messages: list[dict]) -> list[dict] | None:
    """The conversation up to the caller's request the bank refused for want of verification (the
    caller message just before the agent said so), to take that request up again once verified."""
    for index in range(len(messages) - 1, 0, -1):
        message = messages[index]
        if message["role"] == "assistant" and (None, "not_verified") in heard(text_of(message)):
            for before in range(index - 1, -1, -1):
                if messages[before]["role"] == "user" and said(messages[before]):
                    return messages[:before + 1]
            return None
    return None


def _after_tool(result: str, messages: list[dict], tool_names: set[str], system: str):
    """What follows a tool's result: carry on with the request verification held up, hand the call
    over with the client's transferCall, or say the result."""
    outcomes = heard(result)
    users = [said(m) for m in messages if m["role"] == "user" and said(m)]
    if pending := _pending_intent(users):
        pending = _verified_step(pending[0], users[pending[1]], " ".join(users[pending[1]:]))
    if (step := step_up.after_tool(outcomes, result, pending)) is not None:
        return step
    verified = any(key in outcomes for key in (("verify_code", "verified"), ("verify_code", "already_verified"),
                                               ("verify_security_answers", "verified")))
    if verified and (held := _held_up(messages)):
        step = decide(held, tool_names, system)  # the same request again, now that the caller is verified
        if not isinstance(step, str) and step[0] in _RESUMABLE:
            return step
    if verified and (pending := _pending_intent(users)):
        intent, index = pending
        step = _verified_step(intent, users[index], " ".join(users[index:]))
        return step if not isinstance(step, str) else result.replace("What would you like to do?", step)
    if ("transfer_to_human", "transferring") in outcomes and "transferCall" in tool_names:
        return "transferCall", {}, result
    return result or "Done."


def _promise_date(text: str) -> str | None:
    """A day the caller promises to pay by: an ISO date, or a weekday (the next one)."""
    import datetime

    if match := re.search(r"\d{4}-\d{2}-\d{2}", text):
        return match.group(0)
    for index, name in enumerate(_WEEKDAYS):
        if name in text:
            today = datetime.date.today()
            return (today + datetime.timedelta(days=(index - today.weekday() - 1) % 7 + 1)).isoformat()
    return None


def _outbound_step(user: str, previous: str, system: str):
    """An outbound call's answers: a fraud alert's yes or no, a reminder's pay-now or promise."""
    if "Did you make this purchase?" in system:  # a fraud alert: an answer counts whenever it comes
        if re.search(r"\b(that was(n't| not) me|it was(n't| not) me|i didn't make it|not mine)\b", user) or (
                "Did you make this purchase?" in previous and _NO.search(user)):
            return "confirm_transaction", {"made_by_customer": False}
        if re.search(r"\b(that was me|it was me|i made it|it was mine)\b", user) or (
                "Did you make this purchase?" in previous and _YES.search(user)):
            return "confirm_transaction", {"made_by_customer": True}
    if "tell me when you plan to pay" in previous:
        if re.search(r"\b(now|today)\b", user) and (card := re.search(r"card ending in (\d{4})", system)):
            return "prepare_card_payment", {"card_last4": card.group(1), "amount": "minimum"}
        if day := _promise_date(user):
            return "record_promise_to_pay", {"date": day}
    return None


def first_name(system: str) -> str | None:
    """The caller's first name, from the instructions' "Who is calling" section."""
    match = re.search(r"The caller is (\w+), calling from their registered phone line", system)
    return match.group(1) if match else None


def greeting(system: str) -> str:
    if outbound := re.search(r"# Outbound call\n(?:.*\n)*?Open with: (.+)", system):
        return outbound.group(1).strip()
    name = first_name(system)
    return GREETING.replace("Hello,", f"Hello {name},", 1) if name else GREETING


def decide(messages: list[dict], tool_names: set[str] = frozenset(), system: str = "") -> tuple | str:
    """The next step, from Converse messages: a tool call `(name, kwargs)` (with words to say first,
    as a third item), or the reply text."""
    last = messages[-1]
    users = [said(m) for m in messages if m["role"] == "user" and said(m)]
    if only_tool_results(last):
        return _after_tool(text_of(last), messages, tool_names, system)
    original = said(last)
    user = original.lower()
    previous = next((text_of(m) for m in reversed(messages[:-1]) if m["role"] == "assistant"), "")
    if _PERSON.search(user):
        return "transfer_to_human", {"reason": "caller asked for a person"}
    if "endCall" in tool_names and re.search(r"\b(bye|goodbye|end the call|hang up|that's all)\b", user):
        return "endCall", {}
    conversation = " ".join(u.lower() for u in users)
    reason = "stolen" if "stolen" in conversation else "lost"
    if user == CALL_OPENING_QUERY.lower() or re.fullmatch(r"\W*(hi|hello|hey|good (morning|afternoon|evening))\W*", user):
        return greeting(system)
    if "# Outbound call" in system and (step := _outbound_step(user, previous, system)):
        return step
    said_before = heard(previous)
    if answers := security_answers(original):
        return "verify_security_answers", answers
    if re.search(r"\bsecurity questions?\b|\bquestions instead\b|\b(don't|do not|can't|cannot) (get|receive|use) "
                 r"(a |the |any )?(text|code|sms|message)", user):
        return SECURITY_QUESTIONS  # the caller's choice of verification
    asked_last4 = previous.endswith(ASK_LAST4.partition(". ")[2]) or any(
        key in said_before for key in (("block_credit_card", "invalid_last4"), ("block_credit_card", "card_not_found")))
    if asked_last4 and (digits := last4(user)):
        return "block_credit_card", {"card_last4": digits, "reason": reason}
    asked_code = previous.endswith(ASK_CODE) or any(key in said_before for key in (
        ("send_verification_code", "sent"), ("send_verification_code", "too_soon"), ("verify_code", "wrong"),
        ("verify_code", "invalid"), (None, "locked_out")))
    if asked_code and (digits := code(user)):
        return "verify_code", {"code": digits}
    if step := step_up.answer(user, code(user), said_before):
        return step
    if _YES.search(user):
        if (None, "not_verified") in said_before or ("verify_code", "no_code") in said_before:
            return "send_verification_code", {}
        if ("prepare_card_payment", "quoted") in said_before or ("confirm_card_payment", "not_confirmed") in said_before:
            return "confirm_card_payment", {}
        offer = re.search(r"block your card ending in (\d{4})", previous)
        if ("open_dispute", "created") in said_before and offer:
            return "block_credit_card", {"card_last4": offer.group(1), "reason": "stolen"}
        if ("block_credit_card", "blocked") in said_before or ("confirm_transaction", "fraud_reported") in said_before:
            return ASK_ADDRESS
    if previous == ASK_ADDRESS or previous.endswith(ASK_ADDRESS):
        digits = next((last4(u) for u in reversed(users[:-1]) if last4(u)), None)
        if digits is None and (card := re.search(r"card ending in (\d{4})", system)):
            digits = card.group(1)  # an outbound call's card
        if digits:
            return "order_replacement_card", {"card_last4": digits, "address_confirmation": original.strip(" .")}
    if previous.endswith((ASK_CARD, ASK_AMOUNT, ASK_MERCHANT) + step_up.QUESTIONS) and \
            (pending := _pending_intent(users[:-1])):
        intent, index = pending
        step = _verified_step(intent, users[index], " ".join(users[index:]))
        if step == ASK_MERCHANT and (merchant := _merchant_named(original)):
            arguments = {"merchant": merchant, "reason": _dispute_reason(" ".join(users[index:]).lower())}
            if amount := _MONEY.search(original):
                arguments["amount"] = amount.group(0).replace("$", "")
            return "open_dispute", arguments
        return step
    if re.search(r"\b(unblock|transfer money|send money|wire)\b", user):
        return REDIRECT
    for intent, pattern in _VERIFIED_INTENTS:
        if pattern.search(user):
            return _verified_step(intent, original, original)
    if re.search(r"\b(block|lost|stolen|freeze|cancel)\b", user):
        digits = last4(user)
        return ("block_credit_card", {"card_last4": digits, "reason": reason}) if digits else ASK_LAST4
    if re.search(r"\b(loans?|mortgages?|borrow|financ\w*)\b", user):
        kind = _loan_kind(user)
        return "get_loan_products", ({"kind": kind} if kind else {})
    if re.search(r"\bcards?\b", user):
        return "list_credit_cards", {}
    if re.search(r"\b(who am i|my name|my profile|my account|identify)\b", user):
        return "get_customer_profile", {}
    return CAPABILITIES
