"""What the client accepts: which renderer answers (never a 406), and whether an absent `stream` streams.

DRF refuses a request whose Accept header names nothing a view renders (406 Not Acceptable),
before the view runs. `Accept: text/event-stream` is what browsers' EventSource, many SSE
libraries and API gateways send, streaming or not, so here it gets the view's own answer: a
stream is `text/event-stream`, and every other answer and every error is JSON.

The official openai clients omit `stream` on a non-streaming call and send `Accept:
application/json`; voice platforms and curl send `*/*` or nothing. So an absent `stream` is
decided by the Accept header: wildcards never count as asking for a type, an explicit `;q=0`
refuses one.
"""
from django.http import Http404
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation

JSON = "application/json"
EVENT_STREAM = "text/event-stream"


class JSONFallbackNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, except that what it cannot satisfy gets the view's first renderer."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except (NotAcceptable, Http404):  # Http404: an unknown `?format=`
            renderer = renderers[0]
            return renderer, renderer.media_type


def accepted_ranges(request) -> set[str]:
    """The media ranges the Accept header names with a non-zero quality, parameters dropped."""
    accepted = set()
    for item in request.headers.get("Accept", "").split(","):
        media_range, *params = (part.strip() for part in item.split(";"))
        if not media_range:
            continue
        quality = next((value for name, _, value in (p.partition("=") for p in params) if name.strip() == "q"), "1")
        try:
            if float(quality) <= 0:
                continue
        except ValueError:
            pass
        accepted.add(media_range.lower())
    return accepted


def chat_streams_by_default(request) -> bool:
    """Chat completions stream unless the client names JSON and not an event stream (wildcards name neither)."""
    accepted = accepted_ranges(request)
    return not (JSON in accepted and EVENT_STREAM not in accepted)


def streams_only_if_asked(request) -> bool:
    """/responses and /completions: OpenAI's default (no stream) unless only an event stream is accepted."""
    return accepted_ranges(request) == {EVENT_STREAM}
