"""The REST endpoint's input and output: what the bank's fraud system sends and gets back."""
from rest_framework import serializers

from outbound.models import OutboundRequest


class OutboundRequestCreateSerializer(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=OutboundRequest.Purpose.choices)
    customer = serializers.IntegerField(min_value=1, help_text="The customer's id.")
    transaction = serializers.IntegerField(min_value=1, required=False,
                                           help_text="A fraud alert's transaction (the customer's card purchase).")
    card = serializers.IntegerField(min_value=1, required=False, help_text="A payment reminder's card.")

    def validate(self, data):
        needs, other = ("transaction", "card") if data["purpose"] == OutboundRequest.Purpose.FRAUD_ALERT \
            else ("card", "transaction")
        if needs not in data:
            raise serializers.ValidationError({needs: f"A {data['purpose']} needs `{needs}`."})
        if other in data:
            raise serializers.ValidationError({other: f"A {data['purpose']} takes `{needs}`, not `{other}`."})
        return data


class OutboundListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=OutboundRequest.Status.choices, required=False)
    purpose = serializers.ChoiceField(choices=OutboundRequest.Purpose.choices, required=False)
    customer = serializers.IntegerField(min_value=1, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)


def _time(value):
    return value.isoformat() if value else None


def request_data(request: OutboundRequest) -> dict:
    """The request as the API shows it, with its calls (attempts) in order."""
    return {
        "id": request.pk,
        "object": "outbound.request",
        "purpose": request.purpose,
        "customer": request.customer_id,
        "transaction": request.transaction_id,
        "card": request.card_id,
        "due_date": _time(request.due_date),
        "status": request.status,
        "outcome": request.outcome or None,
        "promised_date": _time(request.promised_date),
        "attempts": request.attempts,
        "max_attempts": request.max_attempts,
        "next_attempt_at": _time(request.next_attempt_at),
        "created_by": request.created_by,
        "created_at": _time(request.created_at),
        "updated_at": _time(request.updated_at),
        "calls": [{"number": attempt.number, "vapi_call_id": attempt.vapi_call_id or None, "status": attempt.status,
                   "ended_reason": attempt.ended_reason or None, "error": attempt.error or None,
                   "started_at": _time(attempt.started_at), "ended_at": _time(attempt.ended_at)}
                  for attempt in request.call_attempts.all()],
    }
