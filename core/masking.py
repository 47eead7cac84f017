"""How the bank shows a phone number to anything that is not the bank itself (logs, audit, the model)."""


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    return phone[:2] + "*" * max(len(phone) - 6, 0) + phone[-4:] if len(phone) > 6 else "***"
