"""What a transcript may keep: the log filter's masking (core/log_masking.py: phone, card and
account numbers, any run of 7+ digits, one-time codes as numerals: "123 456", a keypad entry) plus
one-time codes spoken as digit words ("one two three four five six").

A card's last four digits stay: the bank's own records and the agent's answers name cards by them.

Every text that leaves here is also storable: a lone surrogate ("hi \\ud800", which JSON allows and
UTF-8 cannot encode) becomes U+FFFD and a NUL goes (PostgreSQL refuses both), so that one caller's odd
bytes cannot fail a batch of other callers' records (calls/recorder.py).
"""
import re

from core.log_masking import mask_text

_DIGIT_WORD = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|\d)"
# Six or more digits or digit words, separated by spaces, dashes or commas at most: a code said aloud.
_SPOKEN_DIGITS = re.compile(rf"(?<![\w.]){_DIGIT_WORD}(?:[\s,-]{{1,2}}{_DIGIT_WORD}){{5,}}(?![\w])", re.IGNORECASE)


def storable(text: str) -> str:
    """`text` as every database can keep it: lone surrogates replaced (U+FFFD), NUL characters removed."""
    if text.isascii():
        return text.replace("\x00", "") if "\x00" in text else text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # pairs written as two surrogates are joined; a lone one is replaced
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text.replace("\x00", "")


def mask_transcript(text: str | None) -> str:
    if not text:
        return ""
    text = mask_text(storable(text))  # numerals: phones, cards, accounts, codes
    if not any(ch.isdigit() for ch in text) and not _has_digit_words(text):
        return text
    return _SPOKEN_DIGITS.sub(_mask_spoken, text)


def _has_digit_words(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in ("one", "two", "three", "four", "five", "six", "seven", "eight",
                                             "nine", "zero"))


def _mask_spoken(match: re.Match) -> str:
    return "******"


def mask_json(value):
    """Masks every string inside a JSON-like value (a client tool call's arguments, a Vapi message)."""
    if isinstance(value, str):
        return mask_transcript(value)
    if isinstance(value, dict):
        return {storable(str(key)): mask_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_json(item) for item in value]
    return value
