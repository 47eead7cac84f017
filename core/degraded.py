"""Degraded modes: what Fintalk does when a dependency fails, said once in a log line and a metric.

A caller always hears an answer, so a failing dependency is worked around where that is safe:

| dependency | what fails | what Fintalk does instead |
|---|---|---|
| database | the caller lookup for the instructions | the caller is unknown this turn (not cached) |
| database | a bank tool | the model is told the bank's system is unavailable and says so |
| cache (Redis) | the caller cache | the database is asked directly |
| cache (Redis) | the rate limit | the request is let through (fails open) |

Each use counts `fintalk_degraded_total{dependency, fallback}` and logs one warning naming the
dependency, the fallback and the error's kind (never a DSN, a phone or a card number). /readyz
reports each dependency (api/probes.py): a pod without its database is live but not ready; a
pod without its cache stays ready, since every pod shares that cache and works around it.
"""
import logging

from prometheus_client import Counter

logger = logging.getLogger("core.degraded")

DEGRADED = Counter("fintalk_degraded", "Work done in a degraded mode, by failing dependency and fallback.",
                   ["dependency", "fallback"])


def degraded(dependency: str, fallback: str, error: BaseException, **extra) -> None:
    """Count and log one use of a fallback (`fallback` says what was done instead)."""
    DEGRADED.labels(dependency=dependency, fallback=fallback).inc()
    logger.warning("%s unavailable: %s", dependency, fallback.replace("_", " "),
                   extra={"dependency": dependency, "fallback": fallback, "error": type(error).__name__, **extra})


def _cache_errors() -> tuple[type[BaseException], ...]:
    try:
        from redis.exceptions import RedisError
    except ImportError:  # no Redis client installed: only local memory can be configured
        return (OSError,)
    return (RedisError, OSError)


# What a cache backend raises when its server is down or slow (Django's Redis cache passes these on).
CACHE_ERRORS = _cache_errors()
