"""Vapi's own types as the judge: every answer Fintalk gives Vapi is parsed with the models of the
official `vapi-server-sdk` package (Vapi's generated API schema), and must fit them exactly.

The SDK's models accept unknown fields (`extra="allow"`) and widen every enum with `typing.Any`, so a
misspelt key (`firstMesage`) or value (`assistant-speak-first`) would parse. `judged` is stricter than
the SDK and as strict as Vapi's API: after pydantic validation, no model in the tree may hold an
unknown field, and a string where the schema lists literals must be one of them.

The SDK takes ~10 s to import its ~11,000 types; tests import it once, lazily (`vapi_types()`).
"""
import functools
import types
import typing

import pydantic
import pytest


@functools.cache
def vapi_types():
    """`vapi.types`, or a skip with the reason when the package is missing (requirements-dev.txt pins it)."""
    return pytest.importorskip("vapi.types", reason="vapi-server-sdk is not installed (requirements-dev.txt)")


def _literals(annotation) -> set | None:
    """The literal values a field lists, when its type is a union of literals (possibly widened with Any)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _literals(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return set(typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        found = set()
        for arg in typing.get_args(annotation):
            if arg is type(None) or arg is typing.Any:
                continue
            values = _literals(arg)
            if values is None:
                return None  # a union with a model or a free string: not an enum
            found |= values
        return found or None
    return None


def _problems(value, path: str) -> list[str]:
    if isinstance(value, pydantic.BaseModel):
        problems = [f"{path}.{key}: unknown field" for key in (value.model_extra or {})]
        for name, field in type(value).model_fields.items():
            item = getattr(value, name)
            where = f"{path}.{field.alias or name}"
            allowed = _literals(field.annotation)
            if allowed and isinstance(item, str) and item not in allowed:
                problems.append(f"{where}: {item!r} is not one of {sorted(allowed)}")
            problems += _problems(item, where)
        return problems
    if isinstance(value, (list, tuple)):
        return [problem for i, item in enumerate(value) for problem in _problems(item, f"{path}[{i}]")]
    if isinstance(value, dict):
        return [problem for key, item in value.items() for problem in _problems(item, f"{path}.{key}")]
    return []


def judged(model_name: str, data):
    """`data` parsed with vapi.types.<model_name>; fails the test on anything Vapi's schema rejects."""
    model = getattr(vapi_types(), model_name)
    try:
        parsed = model.model_validate(data)
    except pydantic.ValidationError as error:
        pytest.fail(f"Vapi's {model_name} rejects the answer: {error}")
    problems = _problems(parsed, model_name)
    assert not problems, f"Vapi's {model_name} does not know: " + "; ".join(problems)
    return parsed


def to_wire(model: pydantic.BaseModel) -> dict:
    """A Vapi SDK model as Vapi sends it: camelCase aliases, no empty fields."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)
