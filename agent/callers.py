"""Who is calling, for the instructions: one indexed query per call, then the cache.

A 20-turn call must not query the database 20 times, so the summary (first name, cards held and
blocked; never a number) is cached per call — Vapi's `call.id`, else the phone — for
FINTALK_CALLER_CACHE_SECONDS, in Django's cache (Redis when configured, so every worker shares
it). A card blocked during the call drops the entry (`forget_call`), and the next turn reads afresh.

Neither store may cost the caller an answer (core/degraded.py): with the database down the
caller is unknown for this turn (nothing is cached, so the next turn asks again); with the cache
down the database is asked directly.
"""
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import Error as DatabaseError

from agent.prompts import Caller
from bank import line, selectors
from core.degraded import CACHE_ERRORS, degraded

NO_PHONE = Caller()
UNREGISTERED = Caller(phone_given=True)
# The database could not say who is calling: nothing about them, as for a call without a number
# (card actions still check the caller themselves, through the bank's tools).
LOOKUP_FAILED = Caller()
# The carrier did not fully attest the caller ID (bank.line): the caller is unknown until verified.
UNATTESTED = Caller(phone_given=True, unattested=True)


def cache_key(phone: str, call_id: str | None) -> str:
    return f"fintalk:caller:{call_id or phone}"


def _in_memory(cache) -> bool:
    """Local memory is a dict behind a lock: it is read on the event loop. Redis is I/O: in a thread."""
    return isinstance(cache, LocMemCache)


async def _cached(cache, key: str) -> Caller | None:
    if _in_memory(cache):
        return cache.get(key)
    try:
        return await cache.aget(key)
    except CACHE_ERRORS as exc:
        degraded("cache", "caller_from_database", exc)
        return None


async def _remember(cache, key: str, found: Caller) -> None:
    if _in_memory(cache):
        cache.set(key, found, settings.FINTALK_CALLER_CACHE_SECONDS)
        return
    try:
        await cache.aset(key, found, settings.FINTALK_CALLER_CACHE_SECONDS)
    except CACHE_ERRORS:
        pass  # counted once, when the read failed: the next turn asks the database again


async def lookup(phone: str | None, call_id: str | None = None, verstat: str | None = None) -> Caller:
    if not phone:
        return NO_PHONE
    if verstat and not line.attested(verstat):
        return UNATTESTED
    cache, key = caches["default"], cache_key(phone, call_id)
    found = await _cached(cache, key)
    if found is None:
        try:
            summary = await sync_to_async(selectors.caller_summary)(phone=phone)
        except DatabaseError as exc:
            degraded("database", "caller_unknown", exc)
            return LOOKUP_FAILED
        found = UNREGISTERED if summary is None else Caller(True, *summary, phone_given=True)
        await _remember(cache, key, found)
    return found


async def forget_call(phone: str | None, call_id: str | None = None) -> None:
    """Drop what is cached for this call (its cards changed)."""
    if phone:
        try:
            await caches["default"].adelete(cache_key(phone, call_id))
        except CACHE_ERRORS as exc:
            degraded("cache", "caller_not_forgotten", exc)
