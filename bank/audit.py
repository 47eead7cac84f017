"""The one way an audit event is written: masked phone, call and request ids, who acted. `detail`
never holds a secret: free text from a caller or the model (a handoff's reason) is masked before
it gets here (bank.services.handoff_record)."""
from bank.models import AuditEvent
from core.masking import mask_phone


def audit(action: str, outcome: str, *, phone: str | None = None, call_id: str = "", request_id: str = "",
          actor: str = "", card_last4: str = "", detail: str = "") -> AuditEvent:
    return AuditEvent.objects.create(
        action=action, outcome=outcome[:50], masked_phone=mask_phone(phone), call_id=(call_id or "")[:128],
        request_id=(request_id or "")[:64], actor=(actor or "")[:150], card_last4=card_last4,
        detail=(detail or "")[:200])
