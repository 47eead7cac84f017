"""The one way a phone number is read: its E.164 form, or None. "Possible" (the right length for its
country), not "valid": the 555-01xx demo numbers are fictional. A call sends the same number every
turn, and phonenumbers' parse is ~50 us of a turn's CPU, so the last few thousand readings are kept."""
from functools import lru_cache

import phonenumbers
from django.conf import settings

_DEFAULT = object()


def e164(raw: str | None, region=_DEFAULT) -> str | None:
    """E.164 form of `raw`, read in `region` (default FINTALK_PHONE_REGION; None: it must start with +)."""
    raw = (raw or "").strip()
    if len(raw) > 250:  # phonenumbers refuses longer input too; the cache holds short keys only
        return None
    return _read(raw, settings.FINTALK_PHONE_REGION if region is _DEFAULT else region)


@lru_cache(maxsize=4096)
def _read(raw: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
