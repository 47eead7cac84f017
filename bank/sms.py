"""Text messages to a customer's registered phone, through a pluggable sender (like Django's email
backends), chosen by FINTALK_SMS_BACKEND:

- `console` (the default, for development): writes the message to the server's standard error,
  outside the logging system (whose lines never carry a code; see core.log_masking);
- `file`: appends one line per message to FINTALK_SMS_FILE_PATH (tests and demos read codes there);
- `sns`: Amazon SNS `Publish` to the phone number (production; boto3, with AWS's usual
  configuration; AWS_ENDPOINT_URL_SNS points it at a stand-in in tests);
- or the dotted path of a class with `send(phone, message)`.

A sender raises `SmsNotSent` when the message did not go out; the caller is then offered the
security questions or a person instead.
"""
import json
import sys
import threading
from functools import lru_cache

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string


class SmsNotSent(Exception):
    pass


class ConsoleBackend:
    def send(self, phone: str, message: str) -> None:
        sys.stderr.write(f"[fintalk sms to {phone}] {message}\n")
        sys.stderr.flush()


class FileBackend:
    _lock = threading.Lock()

    def __init__(self):
        if not settings.FINTALK_SMS_FILE_PATH:
            raise SmsNotSent("FINTALK_SMS_FILE_PATH is not set")
        self.path = settings.FINTALK_SMS_FILE_PATH

    def send(self, phone: str, message: str) -> None:
        line = json.dumps({"to": phone, "message": message, "at": timezone.now().isoformat()})
        try:
            with self._lock, open(self.path, "a", encoding="utf-8") as file:
                file.write(line + "\n")
        except OSError as exc:
            raise SmsNotSent(str(exc)) from exc


class SnsBackend:
    def __init__(self):
        import boto3
        from botocore.config import Config

        self.client = boto3.client("sns", region_name=settings.AWS_REGION, config=Config(connect_timeout=3, read_timeout=5,
                                                        retries={"mode": "standard", "max_attempts": 2}))

    def send(self, phone: str, message: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.publish(PhoneNumber=phone, Message=message, MessageAttributes={
                "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}})
        except (BotoCoreError, ClientError) as exc:
            raise SmsNotSent(type(exc).__name__) from exc


BACKENDS = {"console": ConsoleBackend, "file": FileBackend, "sns": SnsBackend}


@lru_cache(maxsize=1)
def backend():
    name = settings.FINTALK_SMS_BACKEND
    return (BACKENDS.get(name) or import_string(name))()


def send(phone: str, message: str) -> None:
    backend().send(phone, message)
