"""A call and its turns, as the bank keeps them: masked text, tools, outcome, latency and cost.

A Call is one Vapi call (its `call.id`); a request that carries no Vapi call (curl, an SDK, the
playground) is a Call of its own, type `api`, with a generated id: OpenAI requests name no
conversation, and grouping them by guesswork could join two customers' words. Nothing here holds
a full phone, card, account number or one-time code (calls/masking.py masks the text first).
"""
from django.db import models


class Call(models.Model):
    class Type(models.TextChoices):
        INBOUND = "inbound"
        OUTBOUND = "outbound"
        WEB = "web"
        API = "api", "API (no Vapi call)"

    class Outcome(models.TextChoices):
        RESOLVED = "resolved"
        HANDED_OVER = "handed_over", "Handed over"
        ABANDONED = "abandoned"
        FAILED = "failed"

    call_id = models.CharField(max_length=128, unique=True, help_text="Vapi's call.id, or api-<uuid> for a request without one.")
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.API)
    masked_phone = models.CharField(max_length=24, blank=True)
    customer = models.ForeignKey("bank.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    verification_level = models.PositiveSmallIntegerField(default=0, help_text="The highest level reached in the call.")
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Set by Vapi's report; empty while the call runs.")
    ended_reason = models.CharField(max_length=100, blank=True)
    # Provisional while the call runs (from its turns), final once Vapi reports the end.
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.RESOLVED, db_index=True)
    handoff_reason = models.CharField(max_length=200, blank=True)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True, help_text="Vapi's cost of the call.")
    summary = models.TextField(blank=True)
    recording_url = models.URLField(max_length=1000, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    # What Vapi's server messages said while the call ran (calls/lifecycle.py): its last status, its
    # live-control and listen URLs (call.monitor), the transfer and its summary, the last conversation.
    status = models.CharField(max_length=20, blank=True, help_text="Vapi's last status-update.")
    control_url = models.URLField(max_length=1000, blank=True, help_text="call.monitor.controlUrl: live control.")
    listen_url = models.CharField(max_length=1000, blank=True, help_text="call.monitor.listenUrl: the call's audio.")
    transfer_destination = models.CharField(max_length=100, blank=True, help_text="The team the call went to.")
    transfer_summary = models.TextField(blank=True, help_text="What the person taking over heard (masked).")
    conversation = models.JSONField(default=list, blank=True,
                                    help_text='The last conversation-update, masked: [{"role", "text"}].')
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [("control_call", "Can control a live call (say, add a message, transfer, end)")]

    def __str__(self):
        return self.call_id

    @property
    def handed_over(self) -> bool:
        return self.outcome == self.Outcome.HANDED_OVER


class CallEvent(models.Model):
    """One thing Vapi said happened on the call, or the bank did to it: the call's lifecycle."""

    class Kind(models.TextChoices):
        ASSISTANT = "assistant", "Assistant chosen"
        STATUS = "status"
        SPEECH = "speech"
        INTERRUPTED = "interrupted", "Caller interrupted"
        HANG = "hang", "Assistant silent (hang)"
        TRANSFER = "transfer"
        TRANSFER_REFUSED = "transfer_refused", "Transfer refused"
        CONTROL = "control", "Live control"

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    detail = models.TextField(blank=True, help_text="What happened, masked (e.g. the words the caller heard).")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.kind} @ {self.at:%H:%M:%S}"


class Turn(models.Model):
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="turns")
    request_id = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(db_index=True)
    endpoint = models.CharField(max_length=40, blank=True)
    status = models.PositiveSmallIntegerField(default=0, help_text="The HTTP status of the request.")
    caller_text = models.TextField(blank=True, help_text="What the caller said (masked).")
    agent_text = models.TextField(blank=True, help_text="What the agent said (masked).")
    tools = models.JSONField(default=list, blank=True, help_text='[{"tool", "outcome"}]; a client tool has "client": true.')
    model = models.CharField(max_length=200, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True)
    ttft_ms = models.FloatField(null=True, blank=True, help_text="Request arrival to the first spoken token.")
    duration_ms = models.FloatField(default=0)
    verification_level = models.PositiveSmallIntegerField(default=0)
    handoff_reason = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self):
        return f"{self.call_id} @ {self.started_at:%H:%M:%S}"

    @property
    def tool_errors(self) -> list[dict]:
        return [tool for tool in self.tools if tool.get("outcome") in TOOL_ERROR_OUTCOMES]


# Tool outcomes that mean the tool itself failed (agent/loop.py: an exception or a timeout is "error",
# a name the agent does not have is "unknown_tool"), as opposed to a refusal the tool chose to give.
TOOL_ERROR_OUTCOMES = frozenset({"error", "unknown_tool", "timeout", "unavailable"})
