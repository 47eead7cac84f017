"""Stand-ins for the two services level 2 talks to, speaking their wire formats over HTTP:

- `AppStandIn`, the bank's app backend (bank.push): `POST /approvals` records the request, then
  (per `answer`: "approve", "deny" or None to leave it unanswered) calls back the `callback_url` it was
  given, signed as the bank expects (HMAC-SHA256 over "timestamp.body", `X-Fintalk-Timestamp`,
  `X-Fintalk-Signature: sha256=...`). `callbacks` keeps what it sent, so a test can replay one.
- `LineStandIn`, the carrier's SIM-swap lookup (bank.line, CAMARA SIM Swap API): `POST /check`
  `{"phoneNumber", "maxAge"}` -> `{"swapped": bool}`, true for the phones in `swapped`.
"""
import hashlib
import hmac
import json
import threading
import time

import httpx

from tests.http_standin import HttpStandIn


def signed(secret: str, body: bytes, stamp: int | None = None) -> dict:
    """The headers of a callback signed as bank.push checks them."""
    stamp = str(int(time.time()) if stamp is None else stamp)
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Fintalk-Timestamp": stamp, "X-Fintalk-Signature": f"sha256={digest}", "Content-Type": "application/json"}


class _JsonStandIn(HttpStandIn):
    """A stand-in that reads and answers JSON."""

    def answer_json(self, path: str, body: dict) -> tuple[int, dict]:
        raise NotImplementedError

    def answer_to(self, path, body):
        try:
            status, answer = self.answer_json(path, json.loads(body or b"{}"))
        except ValueError:
            status, answer = 400, {"code": "INVALID_ARGUMENT"}
        return status, "application/json", json.dumps(answer).encode()


class AppStandIn(_JsonStandIn):
    def __init__(self, secret: str):
        self.secret = secret
        self.answer: str | None = "approve"
        self.requests: list[dict] = []
        self.callbacks: list[tuple[bytes, dict, int]] = []  # (body, headers, the bank's status)
        self.done = threading.Event()

    def answer_json(self, path, body):
        if path != "/approvals" or not isinstance(body.get("approval_id"), str):
            return 400, {"error": "not an approval request"}
        self.requests.append(body)
        self.done.clear()
        if self.answer:
            threading.Thread(target=self._call_back, args=(body, self.answer), daemon=True).start()
        return 202, {"shown": True}

    def _call_back(self, request: dict, decision: str) -> None:
        time.sleep(0.3)  # the customer opens the app and taps
        body = json.dumps({"approval_id": request["approval_id"], "decision": decision}).encode()
        headers = signed(self.secret, body)
        response = httpx.post(request["callback_url"], content=body, headers=headers, timeout=10)
        self.callbacks.append((body, headers, response.status_code))
        self.done.set()


class LineStandIn(_JsonStandIn):
    def __init__(self):
        self.swapped: set[str] = set()
        self.lookups: list[dict] = []

    def answer_json(self, path, body):
        if path != "/check" or not isinstance(body.get("phoneNumber"), str):
            return 400, {"code": "INVALID_ARGUMENT"}
        self.lookups.append(body)
        return 200, {"swapped": body["phoneNumber"] in self.swapped}
