"""/playground/: the page, and the chat endpoint it calls (a console path: session, CSRF, staff)."""
from django.urls import path, re_path

from console import views

app_name = "console"

urlpatterns = [
    path("", views.playground, name="playground"),
    re_path(r"^chat/completions/?$", views.PlaygroundChatView.as_view(), name="chat-completions"),
]
