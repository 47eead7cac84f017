"""/api/outbound/...: each route with and without a trailing slash, like the rest of the API."""
from django.urls import re_path

from outbound import views

urlpatterns = [
    re_path(r"^requests/?$", views.OutboundRequestListView.as_view(), name="outbound-requests"),
    re_path(r"^requests/(?P<pk>[0-9]{1,18})/?$", views.OutboundRequestDetailView.as_view(), name="outbound-request"),
    re_path(r"^requests/(?P<pk>[0-9]{1,18})/cancel/?$", views.OutboundRequestCancelView.as_view(),
            name="outbound-request-cancel"),
]
