"""A local stand-in for Vapi's REST API, as far as outbound calls go: `POST /call` answers a call
object with a fresh id (status `queued`), `GET /call/{id}` returns it. A real HTTP server (uvicorn)
that records every request (path, Authorization header, JSON body, arrival time); tests can make
the next answers fail (`fail_next(503, 503)`) or be slow.

Run alone (the README's "Outbound calls" uses it):
    python -m tests.vapi_standin --port 8598 --api-key vapi-local-key
"""
import argparse
import asyncio
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

import uvicorn

from tests.bedrock_standin import StandInServer


@dataclass
class Recorded:
    method: str
    path: str
    authorization: str
    body: dict | None
    at: float  # time.time() when it arrived
    status: int = 0


@dataclass
class VapiStandIn:
    api_key: str = ""  # when set, other bearer keys get a 401, as from Vapi
    delay: float = 0.0  # seconds before each answer
    verbose: bool = False
    requests: list[Recorded] = field(default_factory=list)
    calls: dict[str, dict] = field(default_factory=dict)
    failures: deque = field(default_factory=deque)

    def reset(self) -> None:
        self.requests.clear()
        self.calls.clear()
        self.failures.clear()
        self.delay = 0.0

    def fail_next(self, *statuses: int) -> None:
        self.failures.extend(statuses)

    def placed(self) -> list[Recorded]:
        """The POST /call requests answered with a call."""
        return [r for r in self.requests if r.method == "POST" and r.path == "/call" and r.status == 201]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = Recorded(scope["method"], scope["path"], headers.get("authorization", ""), body, time.time())
        self.requests.append(record)
        if self.delay:
            await asyncio.sleep(self.delay)
        record.status, answer = self._answer(record)
        if self.verbose:
            print(f"{record.method} {record.path} -> {record.status} {json.dumps(answer)}", flush=True)
        payload = json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": record.status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    def _answer(self, record: Recorded) -> tuple[int, dict]:
        if self.api_key and record.authorization != f"Bearer {self.api_key}":
            return 401, {"message": "Invalid Key. Hot tip, you may be using the private key instead of the public key, "
                                    "or vice versa.", "error": "Unauthorized", "statusCode": 401}
        if self.failures:
            status = self.failures.popleft()
            return status, {"message": "stand-in failure", "statusCode": status}
        if record.method == "POST" and record.path == "/call":
            body = record.body if isinstance(record.body, dict) else {}
            if not body.get("phoneNumberId") or not (body.get("assistantId") or body.get("assistant")) \
                    or not isinstance(body.get("customer"), dict) or not body["customer"].get("number"):
                return 400, {"message": ["assistantId, phoneNumberId and customer.number are required"],
                             "error": "Bad Request", "statusCode": 400}
            call = {"id": str(uuid.uuid4()), "orgId": "stand-in-org", "type": "outboundPhoneCall", "status": "queued",
                    "assistantId": body.get("assistantId"), "phoneNumberId": body["phoneNumberId"],
                    "customer": body["customer"], "assistantOverrides": body.get("assistantOverrides", {}),
                    "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            self.calls[call["id"]] = call
            return 201, call
        if record.method == "GET" and record.path.startswith("/call/") and record.path[6:] in self.calls:
            return 200, self.calls[record.path[6:]]
        return 404, {"message": f"Cannot {record.method} {record.path}", "error": "Not Found", "statusCode": 404}


def vapi_standin_server(app: VapiStandIn | None = None) -> StandInServer:
    """The stand-in on a free loopback port in a background thread (the Bedrock stand-in's runner)."""
    return StandInServer(app or VapiStandIn())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8598)
    parser.add_argument("--api-key", default="", help="the only bearer key accepted (default: any)")
    args = parser.parse_args()
    uvicorn.run(VapiStandIn(api_key=args.api_key, verbose=True), host="127.0.0.1", port=args.port,
                log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
