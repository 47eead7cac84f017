"""A local Amazon Bedrock Runtime stand-in speaking the real Converse / ConverseStream wire format.

`POST /model/{modelId}/converse` answers JSON; `POST /model/{modelId}/converse-stream` answers
`application/vnd.amazon.eventstream`: binary messages with a prelude (total and header lengths),
a prelude CRC32, typed headers (`:message-type`, `:event-type`, `:content-type`), a JSON payload
and a message CRC32 — what the real boto3/aiobotocore clients parse. Tests script replies (text,
tool use, usage, stop reason, errors before or during the stream, pacing, a guardrail's
intervention and trace); the stand-in records every request and whether each stream finished or
the client went away.

Production behaviour, as Bedrock documents it: `throttle(model_id)` answers every call to that
model with a ThrottlingException (HTTP 429) until reset; with `caching` on, `cachePoint` blocks are
honoured (a prefix up to a checkpoint is written to the cache the first time, read afterwards, at
the longest cached block boundary; `inputTokens` then excludes what was read or written); a
request's `performanceConfig` is echoed in the metadata.

Run alone (for the benchmark or by hand):
    python -m tests.bedrock_standin --port 8599 --first-token-ms 300 --token-ms 20 --tokens 40
    python -m tests.bedrock_standin --port 8599 --throttle-model amazon.nova-micro-v1:0

Why one module of ~430 lines: it is one service's wire protocol (the event-stream framing, the
scripted replies, the errors and the server), read together when Bedrock's behaviour changes.
"""
import argparse
import asyncio
import hashlib
import json
import re
import socket
import struct
import threading
import time
import uuid
import zlib
from collections import deque
from dataclasses import dataclass, field

import uvicorn

# --- AWS event-stream framing -------------------------------------------------------------------

_STRING = 7


def encode_message(headers: dict[str, str], payload: dict) -> bytes:
    header_bytes = b""
    for name, value in headers.items():
        name_b, value_b = name.encode(), value.encode()
        header_bytes += bytes([len(name_b)]) + name_b + bytes([_STRING]) + struct.pack(">H", len(value_b)) + value_b
    body = json.dumps(payload).encode()
    total = 12 + len(header_bytes) + len(body) + 4
    prelude = struct.pack(">II", total, len(header_bytes))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + header_bytes + body
    return message + struct.pack(">I", zlib.crc32(message))


def event(event_type: str, payload: dict) -> bytes:
    return encode_message(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}, payload
    )


def exception(exception_type: str, message: str) -> bytes:
    return encode_message(
        {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"},
        {"message": message},
    )


# --- Scripted replies ---------------------------------------------------------------------------

@dataclass
class ToolUse:
    name: str
    input: dict
    id: str = field(default_factory=lambda: "tooluse_" + uuid.uuid4().hex[:16])


@dataclass
class Reply:
    """One model response. `text` is streamed word by word (or as given, when a list)."""

    text: str | list[str] = ""
    tool_uses: list[ToolUse] = field(default_factory=list)
    stop_reason: str | None = None  # default: tool_use with tools, else end_turn
    input_tokens: int | None = 25  # None: counted from the request, as Bedrock reports it (see count_tokens)
    output_tokens: int | None = None  # default: one per text piece
    error_status: int | None = None  # an HTTP error instead of a response, e.g. 429
    error_code: str = "ThrottlingException"
    stream_error_after: int | None = None  # a mid-stream exception after this many text pieces
    stream_error_type: str = "modelStreamErrorException"
    first_token_delay: float = 0.0
    token_interval: float = 0.0
    trace: dict | None = None  # metadata.trace, e.g. {"guardrail": {...}} with a guardrail_intervened stop
    echo_tool_results: bool = False  # say the tool results the caller's turn got so far (rehearse's scripts)

    def pieces(self) -> list[str]:
        return list(self.text) if isinstance(self.text, list) else re.findall(r"\S+\s*", self.text)

    def stop(self) -> str:
        return self.stop_reason or ("tool_use" if self.tool_uses else "end_turn")


@dataclass
class StreamRecord:
    path: str
    body: dict
    outcome: str = "open"  # open | completed | client_disconnected | error | throttled

    @property
    def model(self) -> str:
        """The modelId of the path (`/model/{modelId}/converse-stream`)."""
        return self.path.split("/")[2] if self.path.startswith("/model/") else ""


class BedrockStandIn:
    """The ASGI app. `script()` queues replies; with none queued it answers a default text."""

    default_text = "Hello from the Bedrock stand-in."

    def __init__(self, first_token_delay: float = 0.0, token_interval: float = 0.0, default_tokens: int = 0,
                 tool_keyword: str | None = None, record: bool = True, brief_tokens: int = 0):
        self.replies: deque[Reply] = deque()
        self.requests: list[StreamRecord] = []
        self.first_token_delay = first_token_delay
        self.token_interval = token_interval
        self.default_tokens = default_tokens
        # Unscripted: a user turn with it gets a get_loan_products call (and, then, one that says
        # "balance" a get_account_balances call: the bench's verified balance turn).
        self.tool_keyword = tool_keyword
        # Unscripted: a user turn that says "briefly" gets this many words (0: the default reply), as
        # a voice agent's short answers do (the bench's calls per worker).
        self.brief_tokens = brief_tokens
        self.last_body = b""  # the last ConverseStream request's body, as sent
        self.record = record
        self.throttled: set[str] = set()  # model ids answered with ThrottlingException
        self.caching = False  # honour cachePoint blocks (off: they are ignored, as below a model's minimum)
        self.cache_min_tokens = 0  # a checkpoint's prefix shorter than this is not cached
        self._cached: set[str] = set()  # the prefixes in the cache, by hash
        self._lock = threading.Lock()

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def throttle(self, *model_ids: str) -> None:
        with self._lock:
            self.throttled.update(model_ids)

    def reset(self) -> None:
        with self._lock:
            self.replies.clear()
            self.requests.clear()
            self.throttled.clear()
            self._cached.clear()
            self.caching = False
            self.cache_min_tokens = 0

    def calls_to(self, model_id: str) -> list[StreamRecord]:
        return [record for record in self.requests if record.model == model_id]

    def _next_reply(self, body: dict) -> Reply:
        with self._lock:
            if self.replies:
                reply = self.replies.popleft()
                if reply.echo_tool_results:
                    reply.text = _tool_results_since_caller(body) or "How else can I help?"
                return reply
        last = (body.get("messages") or [{}])[-1]
        asks = " ".join(block.get("text", "") for block in last.get("content", []) if isinstance(block, dict))
        if self.tool_keyword and self.tool_keyword in asks:
            return Reply(tool_uses=[ToolUse("get_loan_products", {})], first_token_delay=self.first_token_delay)
        if self.tool_keyword and "balance" in asks:  # the bench's verified balance turn
            return Reply(tool_uses=[ToolUse("get_account_balances", {})], first_token_delay=self.first_token_delay)
        if self.brief_tokens and "briefly" in asks:
            text = [f"word{i} " for i in range(self.brief_tokens)]
        elif self.default_tokens:
            text = [f"word{i} " for i in range(self.default_tokens)]
        else:
            text = self.default_text
        return Reply(text=text, first_token_delay=self.first_token_delay, token_interval=self.token_interval)

    async def __call__(self, scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        if path == "/_standin/script":  # scripted over HTTP from another process (rehearse/standin.py)
            await self._script_over_http(json.loads(body or b"{}"), send)
            return
        if path == "/_standin/last-request":  # the bench's floor replays a server's own request (bench/run.py)
            await _send_json(send, 200, json.loads(self.last_body or b"{}"))
            return
        if path.endswith("/converse-stream"):
            self.last_body = body
        record = StreamRecord(path=path, body=json.loads(body or b"{}"))
        if self.record:
            with self._lock:
                self.requests.append(record)
        if record.model in self.throttled:
            record.outcome = "throttled"
            await _send_json(send, 429, {"message": "Too many requests, please wait before trying again."},
                             {"x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/"})
            return
        reply = self._next_reply(record.body) if not path.endswith("/invoke") else Reply()
        if reply.error_status:
            record.outcome = "error"
            await _send_json(send, reply.error_status, {"message": f"Scripted {reply.error_code}"},
                             {"x-amzn-errortype": f"{reply.error_code}:http://internal.amazon.com/coral/"})
        elif path.endswith("/converse-stream"):
            await self._stream(reply, record, receive, send)
        elif path.endswith("/converse"):
            await _send_json(send, 200, _converse_body(reply, record.body, self.usage(reply, record.body)))
            record.outcome = "completed"
        elif path.endswith("/invoke"):
            await _send_json(send, 200, _titan_embedding(record.body))
            record.outcome = "completed"
        else:
            await _send_json(send, 404, {"message": "Unknown operation"},
                             {"x-amzn-errortype": "UnknownOperationException"})

    async def _script_over_http(self, body: dict, send) -> None:
        """`{"reset": true, "replies": [{"text", "tool_uses": [{"name", "input"}], "echo_tool_results"}]}`."""
        if body.get("reset"):
            self.reset()
        self.script(*(Reply(text=item.get("text", ""), echo_tool_results=bool(item.get("echo_tool_results")),
                            input_tokens=None,  # counted from the request, as Bedrock reports it
                            tool_uses=[ToolUse(tool["name"], tool.get("input") or {}) for tool in item.get("tool_uses", [])])
                      for item in body.get("replies", [])))
        await _send_json(send, 200, {"queued": len(self.replies)})

    async def _stream(self, reply: Reply, record: StreamRecord, receive, send) -> None:
        disconnected = asyncio.Event()

        async def watch():
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()

        watcher = asyncio.create_task(watch())
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/vnd.amazon.eventstream"),
            (b"x-amzn-requestid", uuid.uuid4().hex.encode()),
        ]})

        async def emit(data: bytes, delay: float = 0.0) -> bool:
            if delay:
                try:
                    await asyncio.wait_for(disconnected.wait(), delay)
                except asyncio.TimeoutError:
                    pass
            if disconnected.is_set():
                record.outcome = "client_disconnected"
                return False
            await send({"type": "http.response.body", "body": data, "more_body": True})
            return True

        try:
            if not await emit(event("messageStart", {"role": "assistant"})):
                return
            pieces = reply.pieces()
            for index, piece in enumerate(pieces):
                if reply.stream_error_after is not None and index == reply.stream_error_after:
                    record.outcome = "error"
                    await emit(exception(reply.stream_error_type, "Scripted stream failure"))
                    return
                delay = reply.first_token_delay if index == 0 else reply.token_interval
                if not await emit(event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}}), delay):
                    return
            if pieces and not await emit(event("contentBlockStop", {"contentBlockIndex": 0})):
                return
            for offset, tool in enumerate(reply.tool_uses, start=1 if pieces else 0):
                start = {"contentBlockIndex": offset, "start": {"toolUse": {"toolUseId": tool.id, "name": tool.name}}}
                arguments = json.dumps(tool.input)
                half = len(arguments) // 2
                frames = (
                    event("contentBlockStart", start),
                    event("contentBlockDelta", {"contentBlockIndex": offset, "delta": {"toolUse": {"input": arguments[:half]}}}),
                    event("contentBlockDelta", {"contentBlockIndex": offset, "delta": {"toolUse": {"input": arguments[half:]}}}),
                    event("contentBlockStop", {"contentBlockIndex": offset}),
                )
                for index, data in enumerate(frames):
                    # Without text, the model's "first token" is the tool call: it comes after the delay.
                    delay = reply.first_token_delay if not pieces and offset == 0 and index == 0 else 0
                    if not await emit(data, delay):
                        return
            usage = self.usage(reply, record.body)
            if not await emit(event("messageStop", {"stopReason": reply.stop()})):
                return
            metadata = {"usage": usage, "metrics": {"latencyMs": 10}}
            if reply.trace:
                metadata["trace"] = reply.trace
            if "performanceConfig" in record.body:
                metadata["performanceConfig"] = record.body["performanceConfig"]
            await emit(event("metadata", metadata))
            record.outcome = "completed"
        finally:
            watcher.cancel()
            if not disconnected.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    def usage(self, reply: Reply, body: dict) -> dict:
        """The reply's usage; with caching on and cachePoints in the request, counted from the request."""
        usage = _usage(reply, body)
        if not self.caching:
            return usage
        units, marks = _prefix_units(body)
        if not marks:
            return usage
        with self._lock:
            read, write = self._cache(units, marks)
        total = sum(tokens for _, tokens in units)
        inputs = total - read - write
        return {**usage, "inputTokens": inputs, "totalTokens": inputs + usage["outputTokens"],
                "cacheReadInputTokens": read, "cacheWriteInputTokens": write}

    def _cache(self, units: list[tuple[str, int]], marks: list[int]) -> tuple[int, int]:
        """Tokens read from the cache (the longest cached prefix up to the last checkpoint) and written
        to it (from there to the last checkpoint); every checkpoint's prefix is cached afterwards."""
        digest, hashes, totals = hashlib.sha256(), [""], [0]
        for key, tokens in units:
            digest.update(key.encode())
            hashes.append(digest.hexdigest())
            totals.append(totals[-1] + tokens)
        last = marks[-1]
        read_at = max((end for end in range(1, last + 1) if hashes[end] in self._cached), default=0)
        cacheable = [mark for mark in marks if totals[mark] >= self.cache_min_tokens]
        write = max(0, totals[cacheable[-1]] - totals[read_at]) if cacheable and cacheable[-1] > read_at else 0
        self._cached.update(hashes[mark] for mark in cacheable)
        return totals[read_at], write


_TOKEN = re.compile(r"[A-Za-z]+|\d{1,3}|[^\sA-Za-z\d]")


def count_tokens(body: dict) -> int:
    """An independent count of a Converse request's input tokens, as a BPE tokenizer splits English:
    a word, up to three digits, or one punctuation mark each, over the system text, the messages and
    the tool specs. (Not the model's own tokenizer, which cannot be had offline; close to it.)"""
    texts = [block.get("text", "") for block in body.get("system", [])]
    for message in body.get("messages", []):
        for block in message.get("content", []):
            if "text" in block:
                texts.append(block["text"])
            elif "toolUse" in block:
                texts.append(json.dumps(block["toolUse"].get("input", {})))
            elif "toolResult" in block:
                texts += [item.get("text", "") for item in block["toolResult"].get("content", [])]
    texts.append(json.dumps((body.get("toolConfig") or {}).get("tools", [])))
    return sum(len(_TOKEN.findall(text)) for text in texts)


def _prefix_units(body: dict) -> tuple[list[tuple[str, int]], list[int]]:
    """A request as Bedrock caches it, tools then system then messages: (key, tokens) per block, and
    the number of blocks before each cachePoint."""
    units, marks = [], []

    def add(key: dict, text: str) -> None:
        units.append((json.dumps(key, sort_keys=True), len(_TOKEN.findall(text))))

    for tool in (body.get("toolConfig") or {}).get("tools", []):
        if "cachePoint" in tool:
            marks.append(len(units))
        else:
            add(tool, json.dumps(tool))
    for block in body.get("system", []):
        if "cachePoint" in block:
            marks.append(len(units))
        else:
            add(block, block.get("text", ""))
    for message in body.get("messages", []):
        for block in message.get("content", []):
            if "cachePoint" in block:
                marks.append(len(units))
            elif "text" in block:
                add({"role": message["role"], **block}, block["text"])
            elif "toolUse" in block:
                add({"role": message["role"], **block}, json.dumps(block["toolUse"].get("input", {})))
            elif "toolResult" in block:
                add({"role": message["role"], **block},
                    " ".join(item.get("text", "") for item in block["toolResult"].get("content", [])))
    return units, [mark for mark in marks if mark > 0]


def _tool_results_since_caller(body: dict) -> str:
    """The texts of the tool results after the caller's last words: what a model would say back."""
    results = []
    for message in reversed(body.get("messages", [])):
        blocks = message.get("content", [])
        if message.get("role") == "user" and any(block.get("text") for block in blocks):
            break
        for block in reversed(blocks):
            if "toolResult" in block:
                results.insert(0, " ".join(item.get("text", "") for item in block["toolResult"].get("content", [])))
    return " ".join(results)


def _usage(reply: Reply, body: dict) -> dict:
    output = reply.output_tokens if reply.output_tokens is not None else len(reply.pieces()) + 5 * len(reply.tool_uses)
    inputs = reply.input_tokens if reply.input_tokens is not None else count_tokens(body)
    return {"inputTokens": inputs, "outputTokens": output, "totalTokens": inputs + output}


def _titan_embedding(body: dict) -> dict:
    """Titan Text Embeddings V2's InvokeModel answer: a deterministic unit vector of the text."""
    text, dimensions = body.get("inputText", ""), int(body.get("dimensions", 1024))
    values = [((zlib.crc32(f"{i}:{text}".encode()) % 2001) - 1000) / 1000 for i in range(dimensions)]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return {"embedding": [v / norm for v in values], "inputTextTokenCount": len(text.split()),
            "embeddingsByType": {"float": [v / norm for v in values]}}


def _converse_body(reply: Reply, body: dict, usage: dict) -> dict:
    content = [{"text": "".join(reply.pieces())}] if reply.pieces() else []
    content += [{"toolUse": {"toolUseId": tool.id, "name": tool.name, "input": tool.input}} for tool in reply.tool_uses]
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": reply.stop(),
        "usage": usage,
        "metrics": {"latencyMs": 10},
    }


async def _send_json(send, status: int, payload: dict, headers: dict | None = None) -> None:
    raw = [(b"content-type", b"application/json")] + [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


class StandInServer:
    """Runs a stand-in on a free loopback port in a background thread (for the test process)."""

    def __init__(self, app: BedrockStandIn | None = None):
        self.app = app or BedrockStandIn()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("The Bedrock stand-in did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8599)
    parser.add_argument("--first-token-ms", type=float, default=0)
    parser.add_argument("--token-ms", type=float, default=0)
    parser.add_argument("--tokens", type=int, default=0, help="words per default reply (0: a short sentence)")
    parser.add_argument("--tool-keyword", help="a user turn containing it gets a get_loan_products tool call")
    parser.add_argument("--brief-tokens", type=int, default=0, help="words for a user turn that says 'briefly'")
    parser.add_argument("--throttle-model", action="append", default=[],
                        help="answer every call to this model id with a ThrottlingException (repeatable)")
    args = parser.parse_args()
    app = BedrockStandIn(args.first_token_ms / 1000, args.token_ms / 1000, args.tokens, args.tool_keyword, record=False,
                         brief_tokens=args.brief_tokens)
    app.throttle(*args.throttle_model)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
