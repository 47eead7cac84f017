"""What an operator sees of a request: its HTTP metrics and one structured log line.

What a turn's tools did is counted by the calls app (calls.metrics.count_turn, in the bank's own
vocabulary of outcomes: bank.actions), and the finished turn is handed to its recorder.

A `RequestRecord` is attached to each request by `RequestRecordMiddleware`; views and the
stream fill it (model, first token, tokens, tool calls, errors) and it is finished exactly once:
when a plain response is returned, or when a stream ends for any reason, hang-ups included.
Phone and card numbers never reach the log line (the log filter masks what might slip in).

A request that ran an agent turn is also handed, once finished, to the call recorder
(calls/recorder.py: a bounded queue written by a background thread), which keeps the turn as part
of its Call: the caller's words, what was spoken, the tools, tokens, cost and latency. What the
stream adds for it is one list append per spoken piece (`said`).
"""
import logging
import time
import uuid
from contextlib import aclosing

from asgiref.sync import markcoroutinefunction
from django.conf import settings
from prometheus_client import Counter, Gauge, Histogram

from calls.metrics import count_turn
from calls.recorder import recorder
from core.exceptions import UpstreamError

logger = logging.getLogger("fintalk.request")

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60)

REQUESTS = Counter("fintalk_requests", "HTTP requests by endpoint and status.", ["endpoint", "status"])
DURATION = Histogram("fintalk_request_duration_seconds", "Request duration, to the end of the stream.",
                     ["endpoint"], buckets=_LATENCY_BUCKETS)
TTFT = Histogram("fintalk_time_to_first_token_seconds", "From request arrival to the first spoken token.",
                 ["endpoint"], buckets=_LATENCY_BUCKETS)
UPSTREAM_ERRORS = Counter("fintalk_upstream_errors", "LLM provider (Bedrock) errors by kind.", ["kind"])
TOKENS = Counter("fintalk_tokens", "LLM tokens by direction (input, output).", ["direction"])
ACTIVE_STREAMS = Gauge("fintalk_active_streams", "Streaming responses in progress.", multiprocess_mode="livesum")


_SAFE_REQUEST_ID = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def request_id_from(header: str | None) -> str:
    """Keep a caller's X-Request-ID when it is short and plain; otherwise make one."""
    if header and len(header) <= 64 and set(header) <= _SAFE_REQUEST_ID:
        return header
    return uuid.uuid4().hex


class RequestRecord:
    def __init__(self, request):
        self.request_id = request_id_from(request.headers.get("X-Request-ID"))
        self.method = request.method
        self.started = time.perf_counter()
        self.started_at = time.time()
        self.endpoint = "unknown"
        self.status = 0
        self.model = None
        self.stream = False
        self.ttft = None
        self.tokens_in = self.tokens_out = 0
        self.tool_calls: list[tuple[str, str]] = []
        self.history_trimmed = 0
        self.phone_source = None  # api.conversation.caller_phone's source: customer, system_tag, user_tag, none
        self.error = None
        self.duration = 0.0
        # For the call record: the turn's input, the Vapi call object, what was spoken, the last TurnEnd.
        self.turn_input = None
        self.vapi_call = None
        self.spoken: list[str] = []
        self.end = None
        self.watched = False  # a view's stream finishes this record itself (`watch`)
        self._finished = False

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def first_token(self) -> None:
        if self.ttft is None:
            self.ttft = self.elapsed()

    def said(self, text: str) -> None:
        """A piece of the answer went to the client (the first one is the time to first token)."""
        if self.ttft is None:
            self.ttft = self.elapsed()
        self.spoken.append(text)

    def requested(self, body: dict) -> None:
        """The request's raw body: Vapi's `call` object, if any (its type, for the call record)."""
        call = body.get("call")
        self.vapi_call = call if isinstance(call, dict) else None

    def turn_started(self, turn) -> None:
        """The agent.turn.TurnInput about to run (the caller's words and call, for the call record)."""
        self.turn_input = turn

    def turn_ended(self, end) -> None:
        self.tokens_in, self.tokens_out = end.input_tokens, end.output_tokens
        self.tool_calls = list(end.tool_calls)
        self.history_trimmed = end.history_trimmed
        self.end = end

    def failed(self, error) -> None:
        """An error inside the turn (before or after the stream started)."""
        self.error = getattr(error, "code", None) or type(error).__name__
        if isinstance(error, UpstreamError):
            UPSTREAM_ERRORS.labels(kind=type(error).__name__).inc()

    def server_timing(self) -> str:
        parts = [f"total;dur={self.elapsed() * 1000:.1f}"]
        if self.ttft is not None:
            parts.insert(0, f"ttft;dur={self.ttft * 1000:.1f}")
        return ", ".join(parts)

    def finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        duration = self.duration = self.elapsed()
        REQUESTS.labels(endpoint=self.endpoint, status=str(self.status)).inc()
        DURATION.labels(endpoint=self.endpoint).observe(duration)
        if self.ttft is not None:
            TTFT.labels(endpoint=self.endpoint).observe(self.ttft)
        if self.tokens_in or self.tokens_out:
            TOKENS.labels(direction="input").inc(self.tokens_in)
            TOKENS.labels(direction="output").inc(self.tokens_out)
        count_turn(self.tool_calls, self.end)
        logger.info("request", extra={
            "request_id": self.request_id, "method": self.method, "endpoint": self.endpoint,
            "status": self.status, "model": self.model, "stream": self.stream,
            "ttft_ms": None if self.ttft is None else round(self.ttft * 1000, 1),
            "duration_ms": round(duration * 1000, 1), "tokens_in": self.tokens_in, "tokens_out": self.tokens_out,
            "tool_calls": [f"{tool}:{outcome}" for tool, outcome in self.tool_calls], "error": self.error,
            "history_trimmed": self.history_trimmed, "phone_source": self.phone_source,
            **getattr(self, "bedrock", {}),  # cache tokens, cost, guardrail (#22: api.streaming.turn_ended)
        })
        if self.turn_input is not None and settings.FINTALK_CALL_RECORDS:
            recorder().submit(self)

    def watch(self, content):
        """`content`, streamed, finishes this record when it ends (the middleware leaves it as it is)."""
        self.watched = True
        return self.watch_stream(content)

    async def watch_stream(self, content):
        ACTIVE_STREAMS.inc()
        try:
            async with aclosing(aiter(content)) as parts:
                async for part in parts:
                    yield part
        finally:
            ACTIVE_STREAMS.dec()
            self.finish()


class RequestRecordMiddleware:
    """Request id (also returned as X-Request-ID), one log line and the request metrics."""

    async_capable = True
    sync_capable = False

    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request):
        record = request.fintalk = RequestRecord(request)
        response = await self.get_response(request)
        match = getattr(request, "resolver_match", None)
        record.endpoint = (match.url_name if match and match.url_name else "not_found")
        record.status = response.status_code
        response["X-Request-ID"] = record.request_id
        if response.streaming:
            record.stream = True
            if not record.watched:  # a stream made elsewhere (the views make theirs with `watch`)
                response.streaming_content = record.watch_stream(response.streaming_content)
        else:
            response["Server-Timing"] = record.server_timing()
            record.finish()
        return response
