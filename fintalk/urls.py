"""Root routes: the API under /api/ (and /v1/ for OpenAI-style base URLs); the console (the admin and
the playground, the calls, staff only) under /admin/, /playground/ and /console/; Vapi's server
messages at /api/vapi/events; anything else is a JSON 404."""
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from api import errors, probes
from api.app_approvals import approval_callback
from api.vapi_events import vapi_events
from console.views import favicon
from api.urls import agent_urlpatterns, docs_urlpatterns, urlpatterns as api_urlpatterns

urlpatterns = [
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    path("metrics", probes.MetricsView.as_view(), name="metrics"),
    re_path(r"^api/vapi/events/?$", vapi_events, name="vapi-events"),  # Vapi's server messages (api/vapi_events.py)
    # The bank's app backend answers an approval (bank.push), signed with FINTALK_APP_CALLBACK_SECRET.
    re_path(r"^api/app/approvals/callback/?$", approval_callback, name="app-approval-callback"),
    path("api/", include(api_urlpatterns + agent_urlpatterns + docs_urlpatterns)),
    path("v1/", include((api_urlpatterns, "api"), namespace="v1")),
    path("api/outbound/", include("outbound.urls")),  # #21: the bank's systems ask for outbound calls
    # Console paths: fintalk.middleware.ConsoleMiddleware gives these (only) sessions and users.
    path("admin/", admin.site.urls),
    path("playground/", include("console.urls")),
    path("console/", include("console.calls_urls")),  # the calls: list, call page, dashboard
    path("console/", include("rehearse.urls")),  # #29: rehearsal runs, and a scenario made from a call
    path("favicon.ico", favicon, name="favicon"),
    path("admin", RedirectView.as_view(url="/admin/")),  # typed by hand; APPEND_SLASH is off for the API
    path("playground", RedirectView.as_view(url="/playground/")),
    path("console", RedirectView.as_view(url="/console/")),
    # Last: every unknown route, in DEBUG too, answers with an OpenAI-style JSON 404.
    re_path(r"^", errors.not_found),
]

handler404 = errors.not_found
handler500 = errors.server_error
