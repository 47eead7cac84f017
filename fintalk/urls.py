"""Root routes: the API under /api/ (and /v1/ for OpenAI-style base URLs); anything else is a JSON 404."""
from django.urls import include, path, re_path

from api import errors, operations
from api.urls import agent_urlpatterns, urlpatterns as api_urlpatterns

urlpatterns = [
    path("healthz", operations.healthz, name="healthz"),
    path("readyz", operations.readyz, name="readyz"),
    path("metrics", operations.MetricsView.as_view(), name="metrics"),
    path("api/", include(api_urlpatterns + agent_urlpatterns)),
    path("v1/", include((api_urlpatterns, "api"), namespace="v1")),
    # Last: every unknown route, in DEBUG too, answers with an OpenAI-style JSON 404.
    re_path(r"^", errors.not_found),
]

handler404 = errors.not_found
handler500 = errors.server_error
