"""One call to a Fintalk server, spoken as Vapi speaks it: every turn a streamed chat completion
(`stream: true`) carrying the whole history, the call (`call.id`, its type, the customer's number)
and, on an outbound call, the request's id as `customer.externalId`.

The time to the first word is measured here, on the wire, as a caller would wait for it: from
sending the request to the first chunk with words (or, for a turn that only hands the call over,
the client tool call).
"""
import json
import time
from dataclasses import dataclass, field

import httpx

from rehearse.scenario import CALL_TYPES, CLIENT_TOOLS

VAPI_SYSTEM = "You are the bank's phone agent."  # Vapi always sends the assistant's prompt first


@dataclass
class Reply:
    text: str = ""
    client_tools: list[dict] = field(default_factory=list)  # [{"name", "arguments"}]
    first_word_ms: float | None = None
    total_ms: float = 0.0
    status: int = 200
    error: str = ""
    model: str = ""  # the model that answered, as every chunk names it


class Conversation:
    def __init__(self, client: httpx.Client, *, call_id: str, phone: str | None, call: str = "inbound",
                 client_tools: list[str] = (), request_id: int | None = None, model: str = "fintalk-rehearsal"):
        self.client = client
        self.history: list[dict] = [{"role": "system", "content": VAPI_SYSTEM}]
        self.body = {"model": model, "stream": True}
        if client_tools:
            self.body["tools"] = [CLIENT_TOOLS[name] for name in client_tools]
        customer = {"number": phone} if phone else {}
        if request_id is not None:
            customer["externalId"] = str(request_id)
        self.body["call"] = {"id": call_id, "type": CALL_TYPES[call], "customer": customer}
        self.body["customer"] = customer
        self.body["phoneNumber"] = {"number": "+15550100900"}
        self.body["metadata"] = {}

    def say(self, text: str | None) -> Reply:
        """One turn: the caller's words (None: the opening, where the agent speaks first)."""
        if text is not None:
            self.history.append({"role": "user", "content": text})
        reply = self._post({**self.body, "messages": self.history})
        self.history.append({"role": "assistant", "content": reply.text})
        return reply

    def _post(self, body: dict) -> Reply:
        reply, tools = Reply(), {}
        started = time.perf_counter()
        try:
            with self.client.stream("POST", "/api/chat/completions", json=body) as response:
                reply.status = response.status_code
                if response.status_code != 200:
                    response.read()
                    reply.error = _error_message(response)
                    return reply
                for line in response.iter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    chunk = json.loads(line[6:])
                    if "error" in chunk:
                        reply.error = chunk["error"].get("message") or "error in the stream"
                        continue
                    reply.model = reply.model or chunk.get("model") or ""
                    for choice in chunk.get("choices") or ():
                        delta = choice.get("delta") or {}
                        if delta.get("content"):
                            if reply.first_word_ms is None and delta["content"].strip():
                                reply.first_word_ms = (time.perf_counter() - started) * 1000
                            reply.text += delta["content"]
                        for call in delta.get("tool_calls") or ():
                            if reply.first_word_ms is None:
                                reply.first_word_ms = (time.perf_counter() - started) * 1000
                            entry = tools.setdefault(call.get("index", 0), {"name": "", "arguments": ""})
                            function = call.get("function") or {}
                            entry["name"] += function.get("name") or ""
                            entry["arguments"] += function.get("arguments") or ""
        except httpx.HTTPError as exc:
            reply.error = f"{type(exc).__name__}: {exc}"
        finally:
            reply.total_ms = (time.perf_counter() - started) * 1000
        for entry in tools.values():
            try:
                arguments = json.loads(entry["arguments"] or "{}")
            except json.JSONDecodeError:
                arguments = {"_unparsed": entry["arguments"]}
            reply.client_tools.append({"name": entry["name"], "arguments": arguments})
        return reply


def _error_message(response: httpx.Response) -> str:
    try:
        return f"HTTP {response.status_code}: {response.json()['error']['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text[:200]}"
