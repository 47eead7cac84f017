"""A local stand-in for Vapi: its REST API, its live-call control URLs, and Vapi itself as a caller.

- `POST /call` answers a call object with a fresh id (status `queued`), `GET /call/{id}` returns it.
- `POST /call/{id}/control` is a call's `monitor.controlUrl`: each control message (say, add-message,
  transfer, end-call) is parsed with vapi-server-sdk's `ClientInboundMessage` (400 if Vapi's own types
  reject it) and kept in `control_messages`.
- `VapiCaller` plays Vapi on a running Fintalk: it posts each server message (built from the SDK's
  models, HMAC-signed as a Vapi HMAC credential signs) to /api/vapi/events, and the custom-LLM turns
  to /api/chat/completions with Vapi's body, so one test drives a whole call.
A real HTTP server (uvicorn) that records every request (path, Authorization header, JSON body,
arrival time); tests can make the next answers fail (`fail_next(503, 503)`) or be slow.

Run alone (the README's "Outbound calls" uses it):
    python -m tests.vapi_standin --port 8598 --api-key vapi-local-key
"""
import argparse
import asyncio
import hashlib
import hmac
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
    control_messages: list[tuple[str, dict]] = field(default_factory=list)  # (call id, message)

    def reset(self) -> None:
        self.requests.clear()
        self.calls.clear()
        self.failures.clear()
        self.control_messages.clear()
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
        if record.method == "POST" and record.path.startswith("/call/") and record.path.endswith("/control"):
            return self._control(record.path.split("/")[2], record.body)
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


    def _control(self, call_id: str, body) -> tuple[int, dict]:
        """A control message, judged by Vapi's own ClientInboundMessage (no auth: Vapi's control URLs
        are unguessable capabilities unless monitorPlan.controlAuthenticationEnabled)."""
        import pydantic

        from tests.vapi_judge import vapi_types

        try:
            vapi_types().ClientInboundMessage.model_validate({"message": body})
        except pydantic.ValidationError as error:
            return 400, {"message": str(error)[:500], "error": "Bad Request", "statusCode": 400}
        self.control_messages.append((call_id, body))
        return 200, {"ok": True}


def vapi_standin_server(app: VapiStandIn | None = None) -> StandInServer:
    """The stand-in on a free loopback port in a background thread (the Bedrock stand-in's runner)."""
    return StandInServer(app or VapiStandIn())


class VapiCaller:
    """Vapi on one call to a running Fintalk: server messages built from vapi-server-sdk's models and
    signed with the HMAC credential's secret (`x-signature` over `{x-timestamp}.{body}`, milliseconds),
    and custom-LLM turns with Vapi's body. `control_base`: the stand-in's URL, for monitor.controlUrl."""

    def __init__(self, fintalk_url: str, secret: str, *, number: str | None, call_id: str | None = None,
                 call_type: str = "inboundPhoneCall", control_base: str = "", extra_call: dict | None = None):
        from tests.vapi_judge import vapi_types

        self.url, self.secret, self.number = fintalk_url, secret, number
        self.call_id = call_id or f"call-{uuid.uuid4().hex[:12]}"
        self.types = vapi_types()
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        monitor = self.types.Monitor(control_url=f"{control_base}/call/{self.call_id}/control",
                                     listen_url=f"{control_base.replace('http', 'ws', 1)}/call/{self.call_id}/listen") \
            if control_base else None
        customer = self.types.CreateCustomerDto(number=number) if number else None
        self.call = self.types.Call(id=self.call_id, org_id="stand-in-org", created_at=now, updated_at=now,
                                    type=call_type, customer=customer, monitor=monitor, **(extra_call or {}))
        self.customer = customer
        self.history: list[dict] = []  # the conversation as Vapi reports it (role bot/user, message)

    def message(self, model_name: str, **fields) -> dict:
        """One server message of Vapi's type `model_name` (e.g. "ServerMessageHang"), as Vapi sends it."""
        from tests.vapi_judge import to_wire

        model = getattr(self.types, model_name)(call=self.call, customer=self.customer,
                                                timestamp=time.time() * 1000, **fields)
        return to_wire(model)

    def post(self, message: dict, **httpx_options):
        import httpx

        body = json.dumps({"message": message}).encode()
        stamp = str(int(time.time() * 1000))
        signature = hmac.new(self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return httpx.post(self.url + "/api/vapi/events", content=body, timeout=10, **httpx_options,
                          headers={"content-type": "application/json", "x-timestamp": stamp, "x-signature": signature})

    def send(self, model_name: str, **fields):
        return self.post(self.message(model_name, **fields))

    def vapi_body(self) -> dict:
        """What Vapi adds to a custom-LLM request (metadataSendMode `variable`)."""
        from tests.vapi_judge import to_wire

        return {"call": to_wire(self.call), "customer": to_wire(self.customer) if self.customer else {},
                "phoneNumber": {"id": "pn-stand-in"}, "metadata": {}}

    def turn(self, client, text: str, model: str = "fintalk", tools: list | None = None) -> str:
        """The caller says `text`; the custom LLM answers (streamed, as Vapi asks); both join the history."""
        self.history.append(self._said("user", text))
        messages = [{"role": "assistant" if item["role"] == "bot" else item["role"], "content": item["message"]}
                    for item in self.history]
        options = {"tools": tools} if tools else {}
        chunks = client.chat.completions.create(model=model, messages=messages, stream=True,
                                                extra_body=self.vapi_body(), **options)
        reply = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
        self.history.append(self._said("bot", reply))
        return reply

    def _said(self, role: str, text: str) -> dict:
        now = time.time() * 1000
        return {"role": role, "message": text, "time": now, "endTime": now, "secondsFromStart": 0}

    def conversation_update(self):
        openai_format = [{"role": "assistant" if item["role"] == "bot" else item["role"], "content": item["message"]}
                         for item in self.history]
        return self.send("ServerMessageConversationUpdate", type="conversation-update", messages=self.history,
                         messages_open_ai_formatted=openai_format)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8598)
    parser.add_argument("--api-key", default="", help="the only bearer key accepted (default: any)")
    args = parser.parse_args()
    uvicorn.run(VapiStandIn(api_key=args.api_key, verbose=True), host="127.0.0.1", port=args.port,
                log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
