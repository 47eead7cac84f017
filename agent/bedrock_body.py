"""ConverseStream's JSON body written by orjson instead of botocore's walk over the input shape.

botocore writes a rest-json body by walking the operation's input shape member by member (to
rename members, format timestamps and base64 blobs), then `json.dumps`. For a turn's request,
with the phone line's 14 tool specs and its prompt, that walk and the dump were a tenth of a plain
turn's CPU (BENCHMARKS.md, #32: ~170 shape calls a request). The request agent.converse builds is
already the wire's JSON: ConverseStream's input renames no member and has no timestamp (checked
against the installed service model by `unsupported_members`, which tests/test_bedrock_body.py runs).
What orjson cannot write as botocore would (blobs: images, documents, audio, video, redacted
reasoning; Decimal or non-finite floats) raises TypeError or is caught below, and botocore's own
serializer writes that body, as before. Everything else stays botocore's: the URI, headers,
signing, retries, the event stream.

A fork of botocore 1.43.117 and aiobotocore 3.10.0: the client's `_serializer` is replaced
(`install`), and `BaseRestSerializer._serialize_payload` hands the body to
`_serialize_body_params`. On an upgrade, re-check that aiobotocore's `_convert_to_request_dict`
still calls `self._serializer.serialize_to_request`, that the shape walk still only renames,
formats timestamps and blobs, then update the pins below (tests/test_forks.py fails until then).
"""
import math

import orjson
from botocore.serialize import RestJSONSerializer

UPSTREAM_VERSIONS = {"botocore": "1.43.117", "aiobotocore": "3.10.0"}
UPSTREAM_SOURCES = {
    "botocore.serialize:JSONSerializer._serialize_type_structure": "f3a172f4cfb68b20",
    "botocore.serialize:RestJSONSerializer._serialize_body_params": "7f8945b023aa6a6b",
    "botocore.serialize:BaseRestSerializer._serialize_payload": "375b45ebc980c49e",
    "aiobotocore.client:AioBaseClient._convert_to_request_dict": "775f4244826ec8d9",
}

OPERATIONS = ("ConverseStream", "Converse")


class ConverseSerializer(RestJSONSerializer):
    """botocore's rest-json serializer, but for the Converse operations' bodies (see the module)."""

    def _serialize_body_params(self, params, shape):
        if shape.name in _INPUT_SHAPES and _plain_floats(params.get("inferenceConfig")):
            try:
                return orjson.dumps(params)
            except TypeError:  # bytes (a blob), Decimal: botocore's walk knows what to make of them
                pass
        return super()._serialize_body_params(params, shape)


_INPUT_SHAPES = frozenset(f"{operation}Request" for operation in OPERATIONS)


def _plain_floats(config) -> bool:
    """Whether inferenceConfig's floats are finite (botocore writes NaN and infinities as strings)."""
    if not isinstance(config, dict):
        return True
    return all(isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
               for value in config.values() if not isinstance(value, (list, str)))


def install(client) -> None:
    """Have this aiobotocore bedrock-runtime client write Converse bodies with orjson."""
    current = client._serializer
    if type(current) is RestJSONSerializer:  # not wrapped by parameter validation (agent.bedrock turns it off)
        client._serializer = ConverseSerializer(timestamp_precision=current._timestamp_precision)


def unsupported_members(service_model) -> list[str]:
    """Where the Converse operations' input would need botocore's walk for more than blobs and floats:
    a renamed member or a timestamp. Empty for the installed model (tests/test_bedrock_body.py)."""
    found, seen = [], set()

    def walk(shape, path: str) -> None:
        if shape.name in seen:
            return
        seen.add(shape.name)
        if shape.type_name == "timestamp":
            found.append(f"{path}: timestamp")
        elif shape.type_name == "structure" and not shape.is_document_type:
            for name, member in shape.members.items():
                location = member.serialization.get("location")
                if location and location != "uri":
                    found.append(f"{path}.{name}: in {location}")
                elif not location and member.serialization.get("name", name) != name:
                    found.append(f"{path}.{name}: written as {member.serialization['name']}")
                walk(member, f"{path}.{name}")
        elif shape.type_name == "list":
            walk(shape.member, f"{path}[]")
        elif shape.type_name == "map":
            walk(shape.value, f"{path}{{}}")

    for operation in OPERATIONS:
        walk(service_model.operation_model(operation).input_shape, operation)
    return found
