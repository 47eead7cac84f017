"""API routes. Each matches with and without a trailing slash: the openai SDK and Vapi post
without it, and a redirect cannot carry a POST. Mounted at /api/ and /v1/ (one base_url serves all)."""
from django.urls import re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from api import views

urlpatterns = [
    re_path(r"^chat/completions/?$", views.ChatCompletionsView.as_view(), name="chat-completions"),
    re_path(r"^responses/?$", views.ResponsesView.as_view(), name="responses"),
    re_path(r"^completions/?$", views.CompletionsView.as_view(), name="completions"),
    re_path(r"^embeddings/?$", views.EmbeddingsView.as_view(), name="embeddings"),
    re_path(r"^models/?$", views.ModelListView.as_view(), name="models"),
    re_path(r"^models/(?P<model_id>[^/]+)/?$", views.ModelDetailView.as_view(), name="model-detail"),
]

agent_urlpatterns = [
    re_path(r"^agent/query/?$", views.AgentQueryView.as_view(), name="agent-query"),
    re_path(r"^agent/query/openai/?$", views.DeprecatedAgentOpenAIView.as_view(), name="agent-query-openai"),
]

# The OpenAPI 3.1 document and its Swagger UI (served with its own files: no CDN), under /api/ only.
docs_urlpatterns = [
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]
