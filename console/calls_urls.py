"""/console/: the calls (a console path: session, CSRF, staff)."""
from django.urls import path

from console import call_views, control_views

app_name = "calls_console"

urlpatterns = [
    path("", call_views.dashboard, name="dashboard"),
    path("calls/", call_views.call_list, name="calls"),
    path("calls/<int:pk>/", call_views.call_detail, name="call"),
    path("calls/<int:pk>/control/", control_views.call_control, name="call-control"),  # #30 live control
]
