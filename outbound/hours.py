"""Calling hours in the customer's own time zone (FINTALK_CALLING_HOURS, default 08:00-21:00).

US telemarketing rules allow 8 a.m. to 9 p.m. in the callee's local time and banks keep similar
windows for service calls. A window may wrap past midnight ("22:00-06:00"); seconds are allowed
("08:00:30-21:00"); "00:00-24:00" is any time. Times are wall-clock times in the zone, so
daylight-saving changes are honoured.
"""
import datetime
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from bank import dates

_TIME = r"([01]\d|2[0-4]):([0-5]\d)(?::([0-5]\d))?"


@dataclass(frozen=True)
class CallingHours:
    opens: datetime.time
    closes: datetime.time

    @classmethod
    def parse(cls, text: str) -> "CallingHours":
        match = re.fullmatch(rf"\s*{_TIME}\s*-\s*{_TIME}\s*", text or "")
        if not match:
            raise ImproperlyConfigured(f"FINTALK_CALLING_HOURS={text!r}: use HH:MM-HH:MM, e.g. 08:00-21:00.")
        h1, m1, s1, h2, m2, s2 = (int(part or 0) for part in match.groups())
        if h1 == 24 or (h2 == 24 and (m2 or s2)):
            raise ImproperlyConfigured(f"FINTALK_CALLING_HOURS={text!r}: 24:00 can only close the window.")
        opens = datetime.time(h1, m1, s1)
        closes = datetime.time.max if h2 == 24 else datetime.time(h2, m2, s2)
        if opens == closes:
            raise ImproperlyConfigured(f"FINTALK_CALLING_HOURS={text!r}: the window opens and closes at the same time.")
        return cls(opens, closes)

    def contains(self, local: datetime.time) -> bool:
        if self.opens < self.closes:
            return self.opens <= local < self.closes
        return local >= self.opens or local < self.closes  # wraps past midnight

    def next_opening(self, now: datetime.datetime, zone: str) -> datetime.datetime | None:
        """None when `now` is inside the window in `zone`; else when the window next opens (aware, UTC)."""
        tz = dates.customer_zone(zone)
        local = now.astimezone(tz)
        if self.contains(local.time()):
            return None
        day = local.date() if local.time() < self.opens else local.date() + datetime.timedelta(days=1)
        opening = datetime.datetime.combine(day, self.opens, tzinfo=tz)
        return opening.astimezone(datetime.timezone.utc)


def configured() -> CallingHours:
    """The calling hours as configured now (FINTALK_CALLING_HOURS): read whenever a call is due, never
    kept on a request, so that a changed window applies to requests already waiting."""
    return CallingHours.parse(settings.FINTALK_CALLING_HOURS)


def open_zones(zones, now: datetime.datetime) -> list[str]:
    """Those of the customers' `zones` (names) in which the calling hours allow a call at `now`."""
    window = configured()
    return [zone for zone in zones if window.next_opening(now, zone) is None]
