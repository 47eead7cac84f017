"""Tools the client brings: offered to the model next to the bank's, but run by the client.

When the model calls a client tool (a Vapi `endCall`, an app's own function), the loop runs
nothing: the turn ends and the API layer hands the call to the client (`tool_calls`,
finish_reason "tool_calls").

Structured output uses the same mechanism: the requested JSON schema becomes a tool the model
must call (Bedrock `toolChoice: any` on every call of the turn, so bank tools still work); its
input, once it validates against the schema, is the turn's content.

Both are LlamaIndex tools (their metadata gives the toolSpec), never called: the loop reads them.
"""
from dataclasses import dataclass

import jsonschema
from llama_index.core.tools import BaseTool, ToolMetadata, ToolOutput

MAX_STRUCTURED_ATTEMPTS = 2


class SchemaToolMetadata(ToolMetadata):
    """ToolMetadata whose parameters are a JSON schema given as is (not a pydantic model)."""

    def __init__(self, name: str, description: str, schema: dict):
        super().__init__(description=description, name=name)
        self.schema = schema

    def get_parameters_dict(self) -> dict:
        return self.schema


@dataclass(frozen=True)
class ClientToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as OpenAI sends it


class _DeclaredTool(BaseTool):
    """A tool the model may call but the server never runs."""

    def __init__(self, metadata: SchemaToolMetadata):
        self._metadata = metadata

    @property
    def metadata(self) -> ToolMetadata:
        return self._metadata

    def __call__(self, *args, **kwargs) -> ToolOutput:
        raise NotImplementedError(f"{self._metadata.name} is not run by the server; the loop reads its call.")


class ClientTool(_DeclaredTool):
    """A function tool of the request's: calling it ends the turn and the client gets the call."""

    def __init__(self, name: str, description: str, parameters: dict):
        super().__init__(SchemaToolMetadata(name, description or name,
                                            parameters or {"type": "object", "properties": {}}))


class StructuredOutputTool(_DeclaredTool):
    """The requested response schema as a tool; a valid call ends the turn with its JSON."""

    DESCRIPTION = ("Give your final answer to the user by calling this tool with it, as JSON matching its schema. "
                   "Call it once you have everything you need.")

    def __init__(self, name: str, schema: dict, strict: bool):
        super().__init__(SchemaToolMetadata(name, self.DESCRIPTION, schema))
        self.strict = strict

    def error(self, arguments: dict) -> str | None:
        """What is wrong with an answer under a strict schema, or None."""
        if not self.strict:
            return None
        try:
            jsonschema.validate(arguments, self._metadata.schema)
        except jsonschema.ValidationError as exc:
            return exc.message
        return None


def json_object_schema() -> dict:
    return {"type": "object"}
