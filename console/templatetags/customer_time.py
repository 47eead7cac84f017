"""`{{ moment|customer_time:customer }}`: a moment in the customer's time zone, with the zone's name
("2026-11-28 20:30:05 CST"), by bank.dates' one rule; UTC when there is no customer. (Django's `date`
filter would convert it back to the site's zone first.)"""
from django import template

from bank import dates

register = template.Library()


@register.filter
def customer_time(moment, customer=None) -> str:
    return dates.shown(moment, customer)


@register.filter
def customer_clock(moment, customer=None) -> str:
    """The time of day only ("20:30:05"), for a turn within a call already dated."""
    moment = dates.local(moment, customer)
    return moment.strftime("%H:%M:%S") if moment else ""
