"""Telling a customer that their details changed, at the details they had *before* the change: the
old registered phone (bank.sms) and the old email (Django's email backend, EMAIL_BACKEND). Whoever
took over an account by phone can't hide the change from its owner this way. A notice that can't be
sent is logged and audited (`notice`, `failed`); the change itself stands. A notice holds no code, no
full number and no address: what changed, and what to do if it wasn't them."""
import logging

from django.conf import settings
from django.core.mail import send_mail

from bank import sms
from core.masking import mask_phone

logger = logging.getLogger("fintalk.bank")


def notify(session, *, old_phone: str, old_email: str, what: str) -> list[str]:
    """Send "`what` changed" to the old phone and email; the channels that carried it."""
    text = (f"{settings.FINTALK_BANK_NAME}: {what} If this wasn't you, call us now on the number on the back of "
            "your card.")
    sent = []
    if old_phone:
        try:
            sms.send(old_phone, text)
            sent.append("sms")
        except Exception as exc:
            logger.warning("notice not sent by text", extra={"phone": mask_phone(old_phone), "error": type(exc).__name__})
            session.audit("notice", "failed", detail="sms")
    if old_email:
        try:
            send_mail(f"{settings.FINTALK_BANK_NAME}: your details changed", text, None, [old_email])
            sent.append("email")
        except Exception as exc:
            logger.warning("notice not sent by email", extra={"error": type(exc).__name__})
            session.audit("notice", "failed", detail="email")
    return sent
