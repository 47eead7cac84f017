"""Masks phone numbers and card numbers in every log record before any handler formats it.

Applied as a filter on the root handler, so it covers our loggers and third-party ones alike:
the message, its %-args and the structured `extra` fields a JSON formatter would print.

A UUID (a Celery task id, a request id) is an id, not a number: it is left whole, even when two of
its groups happen to be all digits ("...-4004-9104-..." read as an 8-digit run).
"""
import logging
import re

# A run of 7+ digits, optionally led by + and broken by spaces, dots, dashes or brackets:
# phone numbers in any format and card numbers (PAN). Four digits alone (a card's last4) stay.
_DIGIT_RUN = re.compile(r"(?<![\w.])\+?\(?\d(?:[\s().-]{0,2}\d){6,}(?!\w)")
# Six digits standing alone, optionally split in two (a one-time code, typed or keyed: 123456,
# 123 456, 123-456; not part of a word, an amount or a longer number): wholly masked.
ONE_TIME_CODE = re.compile(r"(?<![\w.,$])\d{3}[\s-]?\d{3}(?![\w]|[.,]\d)")
_UUID = re.compile(r"(?<![0-9a-fA-F-])([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
                   r"(?![0-9a-fA-F-])")


def _mask_match(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "***" + digits[-2:]


def _mask_numbers(text: str) -> str:
    return ONE_TIME_CODE.sub("******", _DIGIT_RUN.sub(_mask_match, text))


def mask_text(text: str) -> str:
    if text.count("-") < 4 or not _UUID.search(text):
        return _mask_numbers(text)
    pieces = _UUID.split(text)  # text, uuid, text, uuid, ..., text
    return "".join(piece if index % 2 else _mask_numbers(piece) for index, piece in enumerate(pieces))


def mask_value(value):
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: mask_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_value(item) for item in value)
    return value


_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class MaskPIIFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_text(record.getMessage())
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, mask_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
