"""Who is calling, for the instructions: one indexed query per call, then the cache.

A 20-turn call must not query the database 20 times, so the summary (first name, cards held and
blocked; never a number) is cached per call — Vapi's `call.id`, else the phone — for
FINTALK_CALLER_CACHE_SECONDS, in Django's cache (Redis when configured, so every worker shares
it). A card blocked during the call drops the entry (`forget`), and the next turn reads afresh.
"""
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache

from agent.prompts import Caller
from bank import selectors

NO_PHONE = Caller()
UNREGISTERED = Caller(phone_given=True)


def cache_key(phone: str, call_id: str | None) -> str:
    return f"fintalk:caller:{call_id or phone}"


def _in_memory(cache) -> bool:
    """Local memory is a dict behind a lock: it is read on the event loop. Redis is I/O: in a thread."""
    return isinstance(cache, LocMemCache)


async def caller(phone: str | None, call_id: str | None = None) -> Caller:
    if not phone:
        return NO_PHONE
    cache, key = caches["default"], cache_key(phone, call_id)
    found = cache.get(key) if _in_memory(cache) else await cache.aget(key)
    if found is None:
        summary = await sync_to_async(selectors.caller_summary)(phone=phone)
        found = UNREGISTERED if summary is None else Caller(True, *summary, phone_given=True)
        if _in_memory(cache):
            cache.set(key, found, settings.FINTALK_CALLER_CACHE_SECONDS)
        else:
            await cache.aset(key, found, settings.FINTALK_CALLER_CACHE_SECONDS)
    return found


async def forget(phone: str | None, call_id: str | None = None) -> None:
    """Drop what is cached for this call (its cards changed)."""
    if phone:
        await caches["default"].adelete(cache_key(phone, call_id))
