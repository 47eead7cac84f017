"""Tools the client brings: offered to the model next to the bank's, but run by the client.

When the model calls a client tool (a Vapi `endCall`, an app's own function), the agent does not
run anything: the call is recorded in the turn, the tool returns directly and the turn ends, and
the API layer hands the call to the client (`tool_calls`, finish_reason "tool_calls").

Structured output uses the same mechanism: the requested JSON schema becomes a tool the model
must call (Bedrock `toolChoice: any` on every call of the turn, so bank tools still work); its
input, once it validates against the schema, is the turn's content.
"""
import json
from dataclasses import dataclass

import jsonschema
from llama_index.core.tools import AsyncBaseTool, ToolMetadata, ToolOutput

from agent.context import turn

MAX_STRUCTURED_ATTEMPTS = 2


class SchemaToolMetadata(ToolMetadata):
    """ToolMetadata whose parameters are a JSON schema given as is (not a pydantic model)."""

    def __init__(self, name: str, description: str, schema: dict, return_direct: bool = True):
        super().__init__(description=description, name=name, return_direct=return_direct)
        self.schema = schema

    def get_parameters_dict(self) -> dict:
        return self.schema


@dataclass(frozen=True)
class ClientToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as OpenAI sends it


class ClientTool(AsyncBaseTool):
    """A function tool of the request's: calling it ends the turn and the client gets the call."""

    def __init__(self, name: str, description: str, parameters: dict):
        self._metadata = SchemaToolMetadata(name, description or name, parameters or {"type": "object", "properties": {}})

    @property
    def metadata(self) -> ToolMetadata:
        return self._metadata

    def call(self, *args, **kwargs) -> ToolOutput:
        raise NotImplementedError("Client tools run on the client; the agent only hands the call over.")

    async def acall(self, *args, **kwargs) -> ToolOutput:
        arguments = json.dumps(kwargs, ensure_ascii=False)
        return ToolOutput(content=f"Handed {self._metadata.name} to the client.", tool_name=self._metadata.name,
                          raw_input=kwargs, raw_output=arguments)


class StructuredOutputTool(AsyncBaseTool):
    """The requested response schema as a tool; a valid call ends the turn with its JSON."""

    def __init__(self, name: str, schema: dict, strict: bool):
        description = ("Give your final answer to the user by calling this tool with it, as JSON matching "
                       "its schema. Call it once you have everything you need.")
        self._metadata = SchemaToolMetadata(name, description, schema, return_direct=True)
        self._strict = strict
        self._attempts = 0

    @property
    def metadata(self) -> ToolMetadata:
        return self._metadata

    def call(self, *args, **kwargs) -> ToolOutput:
        raise NotImplementedError("Use acall.")

    async def acall(self, *args, **kwargs) -> ToolOutput:
        self._attempts += 1
        error = None
        if self._strict:
            try:
                jsonschema.validate(kwargs, self._metadata.schema)
            except jsonschema.ValidationError as exc:
                error = exc.message
        if error and self._attempts < MAX_STRUCTURED_ATTEMPTS:
            # Not final: let the model see what was wrong and call again.
            self._metadata.return_direct = False
            return ToolOutput(content=f"That does not match the schema: {error}. Call the tool again.",
                              tool_name=self._metadata.name, raw_input=kwargs, raw_output=None, is_error=True)
        self._metadata.return_direct = True
        turn().meter.structured = (json.dumps(kwargs, ensure_ascii=False), error)
        return ToolOutput(content="Answer recorded.", tool_name=self._metadata.name, raw_input=kwargs,
                          raw_output=kwargs)


def json_object_schema() -> dict:
    return {"type": "object"}
