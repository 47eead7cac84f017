"""Endpoints for the operator: liveness, readiness and Prometheus metrics.

`/healthz` and `/readyz` need no key (load balancers and orchestrators call them); `/metrics`
is protected like the API unless FINTALK_METRICS_AUTH=disabled. With several gunicorn workers,
set PROMETHEUS_MULTIPROC_DIR so that /metrics sums every worker. A worker told to stop (SIGTERM)
answers /readyz with 503 while it drains (core/drain.py).

/readyz reports each dependency (core/degraded.py says what a failing one costs): the
database and the LLM's configuration decide readiness, since a pod without them cannot serve
what it is for; the cache (Redis) is reported but never takes a pod out (every pod shares it, and
each works around its outage), so the status is then `degraded` with 200.
"""
import os
from functools import lru_cache

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client import REGISTRY
from rest_framework.views import APIView

from api.authentication import BearerKeyAuthentication
from core.drain import draining


async def healthz(request):
    return JsonResponse({"status": "ok"})


def _database_ok() -> tuple[bool, str]:
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and not name.startswith(("file:", ":memory:")) and not os.path.exists(name):
        return False, "database file missing"  # and connecting would create an empty one
    try:
        with connection.cursor() as cursor:
            # A table of this project, not just `SELECT 1`: an emptied or replaced database answers that.
            cursor.execute("SELECT 1 FROM django_migrations LIMIT 1")
        return True, "ok"
    except Exception as exc:  # any failure means "not ready"; say which kind, not the DSN
        return False, type(exc).__name__
    finally:
        connection.close()


def _cache_ok() -> tuple[bool, str]:
    cache = caches["default"]
    if isinstance(cache, LocMemCache):
        return True, "local memory (this process only)"
    try:
        cache.get("fintalk:readyz")  # one round trip to Redis
        return True, "ok"
    except Exception as exc:  # reported, not raised: the pod works around it (core/degraded.py)
        return False, type(exc).__name__


@lru_cache(maxsize=1)
def _aws_credentials_found() -> bool:
    import boto3

    return boto3.Session().get_credentials() is not None


def _llm_ok() -> tuple[bool, str]:
    if settings.FINTALK_LLM == "demo":
        return True, "demo model"
    if not _aws_credentials_found():
        _aws_credentials_found.cache_clear()  # look again next time: credentials may appear
        return False, "no AWS credentials found"
    return True, f"bedrock {settings.BEDROCK_MODEL_ID} in {settings.AWS_REGION}"


async def readyz(request):
    if draining():
        return JsonResponse({"status": "draining", "checks": {"worker": "stopping: finishing running requests"}},
                            status=503)
    database_ok, database = await sync_to_async(_database_ok)()
    cache_ok, cache = await sync_to_async(_cache_ok, thread_sensitive=False)()
    llm_ok, llm = await sync_to_async(_llm_ok, thread_sensitive=False)()
    ready = database_ok and llm_ok
    status = "not ready" if not ready else "ready" if cache_ok else "degraded"
    return JsonResponse({"status": status, "checks": {"database": database, "cache": cache, "llm": llm}},
                        status=200 if ready else 503)


class MetricsView(APIView):
    api_scope = None  # any API key, whatever its scopes (the scraper's)

    def get_authenticators(self):
        return [] if settings.FINTALK_METRICS_AUTH == "disabled" else [BearerKeyAuthentication()]

    def get_permissions(self):
        return [] if settings.FINTALK_METRICS_AUTH == "disabled" else super().get_permissions()

    def get_throttles(self):
        return []

    def get(self, request):
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = REGISTRY
        return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
