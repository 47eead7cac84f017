"""Reading Vapi's server messages (`{"message": {"type", "call", "customer", ...}}`): the few facts the
calls app takes from them, each read one way everywhere, whatever is missing or malformed.

The caller's number is in `message.customer.number` or `message.call.customer.number` (either may be
absent; web calls have none); it is normalised to E.164 here and never stored or logged unmasked.
"""
from core.phones import e164


def vapi_call(message: dict) -> dict:
    call = message.get("call")
    return call if isinstance(call, dict) else {}


def call_id(message: dict) -> str | None:
    value = vapi_call(message).get("id")
    return value[:128] if isinstance(value, str) and value else None


def caller_number(message: dict) -> str | None:
    """The caller's phone in E.164, or None (no number, a withheld or unusable one)."""
    for holder in (message.get("customer"), vapi_call(message).get("customer")):
        raw = holder.get("number") if isinstance(holder, dict) else None
        if isinstance(raw, str) and raw.strip():
            return e164(raw)
    return None


def monitor_urls(message: dict) -> tuple[str, str]:
    """(controlUrl, listenUrl) from call.monitor, empty when absent or not a string."""
    monitor = vapi_call(message).get("monitor")
    monitor = monitor if isinstance(monitor, dict) else {}
    control, listen = monitor.get("controlUrl"), monitor.get("listenUrl")
    return (control if isinstance(control, str) and control.startswith(("https://", "http://")) else "",
            listen if isinstance(listen, str) and listen.startswith(("wss://", "ws://", "https://")) else "")


def spoken_messages(message: dict) -> list[dict]:
    """The conversation as Vapi reports it (`messages`, else `artifact.messages`): role and text only."""
    items = message.get("messages")
    if not isinstance(items, list):
        artifact = message.get("artifact") if isinstance(message.get("artifact"), dict) else {}
        items = artifact.get("messages") if isinstance(artifact.get("messages"), list) else []
    found = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("role"), str):
            text = item.get("message") if isinstance(item.get("message"), str) else item.get("content")
            if isinstance(text, str) and text:
                found.append({"role": item["role"], "text": text})
    return found
