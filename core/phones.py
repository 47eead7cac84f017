"""The one way a phone number is read: its E.164 form, or None. "Possible" (the right length for its
country), not "valid": the 555-01xx demo numbers are fictional."""
import phonenumbers
from django.conf import settings

_DEFAULT = object()


def e164(raw: str | None, region=_DEFAULT) -> str | None:
    """E.164 form of `raw`, read in `region` (default FINTALK_PHONE_REGION; None: it must start with +)."""
    try:
        number = phonenumbers.parse((raw or "").strip(), settings.FINTALK_PHONE_REGION if region is _DEFAULT else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
