"""/console/rehearsals/ and the call page's "make a scenario" (console paths: session, CSRF, staff)."""
from django.urls import path

from rehearse import views

app_name = "rehearse"

urlpatterns = [
    path("rehearsals/", views.run_list, name="runs"),
    path("rehearsals/diff/", views.run_diff, name="diff"),
    path("rehearsals/<int:pk>/", views.run_detail, name="run"),
    path("rehearsals/scenarios/<str:name>/", views.scenario_history, name="scenario"),
    path("calls/<int:pk>/scenario/", views.scenario_from_call, name="from-call"),
]
