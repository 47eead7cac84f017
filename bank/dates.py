"""One rule for dates: a moment of a customer's (a purchase, a call, a case) is said and shown in the
customer's own time zone (`Customer.time_zone`), everywhere: on the phone, in the console, the admin
and the CSV. The database keeps UTC. A moment with no customer (an API call, the dashboard's hours) is
shown in UTC and says so.

`local(moment, customer)` is the one conversion; the rest format what it gives. A purchase at 02:30 UTC
on November 29 is "Saturday, November 28" to a customer in Chicago, on the fraud call and in the
transaction list alike.
"""
import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = ZoneInfo("UTC")


def customer_zone(name: str | None) -> ZoneInfo:
    """The customer's zone; an unknown or empty name is UTC (never a guess)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def zone_of(customer) -> ZoneInfo:
    """The zone of a Customer, a zone name, or UTC for None."""
    if customer is None:
        return UTC
    return customer_zone(customer if isinstance(customer, str) else getattr(customer, "time_zone", None))


def local(moment: datetime.datetime | None, customer) -> datetime.datetime | None:
    """`moment` (aware, as the database gives it) in the customer's time zone (`customer`: a Customer,
    a zone name, or None for UTC). A naive moment is taken as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone_of(customer))


def local_date(moment: datetime.datetime | None, customer) -> datetime.date | None:
    """The customer's calendar day of `moment`."""
    moment = local(moment, customer)
    return moment.date() if moment else None


def shown(moment: datetime.datetime | None, customer, with_seconds: bool = True) -> str:
    """"2026-11-28 20:30:05 CST": a moment as the console, the admin and the CSV show it."""
    moment = local(moment, customer)
    if moment is None:
        return ""
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z" if with_seconds else "%Y-%m-%d %H:%M %Z")
