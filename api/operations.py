"""Endpoints for the operator: liveness, readiness and Prometheus metrics.

`/healthz` and `/readyz` need no key (load balancers and orchestrators call them); `/metrics`
is protected like the API unless FINTALK_METRICS_AUTH=disabled. With several gunicorn workers,
set PROMETHEUS_MULTIPROC_DIR so that /metrics sums every worker.
"""
import os
from functools import lru_cache

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client import REGISTRY
from rest_framework.views import APIView

from api.authentication import BearerKeyAuthentication


async def healthz(request):
    return JsonResponse({"status": "ok"})


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as exc:  # any failure means "not ready"; say which kind, not the DSN
        return False, type(exc).__name__
    finally:
        connection.close()


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
    database_ok, database = await sync_to_async(_database_ok)()
    llm_ok, llm = await sync_to_async(_llm_ok, thread_sensitive=False)()
    ready = database_ok and llm_ok
    return JsonResponse({"status": "ready" if ready else "not ready",
                         "checks": {"database": database, "llm": llm}}, status=200 if ready else 503)


class MetricsView(APIView):
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
