"""Request validation for the OpenAI-compatible and native endpoints (DRF serializers).

One module per endpoint family (`chat`, `responses`, `completions`, `embeddings`, `agent`) over
`base`, which holds the fields they share and the rules decided once (the `stream` default, the
output-token limit). Import from here: `from api.serializers import ChatCompletionRequestSerializer`.
"""
from api.serializers.agent import AgentQuerySerializer
from api.serializers.base import RequestSerializer, StopField, StreamOptionsSerializer, StringListField
from api.serializers.chat import (
    ChatCompletionRequestSerializer,
    FunctionCallField,
    FunctionDefinitionSerializer,
    JSONSchemaFormatSerializer,
    MessageContentField,
    OpenAIMessageSerializer,
    ResponseFormatSerializer,
    ToolCallFunctionSerializer,
    ToolCallSerializer,
    ToolChoiceField,
    ToolSerializer,
)
from api.serializers.completions import CompletionsRequestSerializer
from api.serializers.embeddings import EmbeddingsRequestSerializer
from api.serializers.responses import ResponsesInputField, ResponsesRequestSerializer

__all__ = [
    "AgentQuerySerializer", "ChatCompletionRequestSerializer", "CompletionsRequestSerializer",
    "EmbeddingsRequestSerializer", "FunctionCallField", "FunctionDefinitionSerializer", "JSONSchemaFormatSerializer",
    "MessageContentField", "OpenAIMessageSerializer", "RequestSerializer",
    "ResponseFormatSerializer", "ResponsesInputField", "ResponsesRequestSerializer", "StopField",
    "StreamOptionsSerializer", "StringListField", "ToolCallFunctionSerializer", "ToolCallSerializer",
    "ToolChoiceField", "ToolSerializer",
]
