"""/console/: the calls (a console path: session, CSRF, staff)."""
from django.urls import path

from console import call_views

app_name = "calls_console"

urlpatterns = [
    path("", call_views.dashboard, name="dashboard"),
    path("calls/", call_views.call_list, name="calls"),
    path("calls/<int:pk>/", call_views.call_detail, name="call"),
]
