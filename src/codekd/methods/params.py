"""Typed method parameters: each method's settings as a pydantic model.

A method declares ``class Params(MethodParams)`` with typed, constrained fields whose defaults are
the corrected settings, and ``paper = Params(...)``, the paper-faithful ones. The field types
below carry the shared constraints (a temperature is a finite number > 0, a weight a finite
number >= 0, ...). Validation is strict: a number is never read from a string, a switch never
from a number, and an unknown name is an error; :func:`parse_params` turns the first error into
one :class:`~codekd.errors.ConfigError` line naming the method and the field.

>>> class Params(MethodParams):
...     temperature: Temperature = 4.0
>>> parse_params("kd", Params, {"temperature": 2}).temperature
2.0
>>> parse_params("kd", Params, {"temperature": "hot"})
Traceback (most recent call last):
...
codekd.errors.ConfigError: method 'kd': parameter temperature must be a number, got str 'hot'
"""

from __future__ import annotations

from typing import Annotated, Any, Mapping, Sequence, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, ValidationError, create_model

from ..errors import ConfigError
from .align import ALIGN_MODES
from .layermap import check_layer_map_spec


class MethodParams(BaseModel):
    """Base of every method's parameter model: strict types, no unknown names, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _in_unit_interval(v: float) -> float:
    if not 0 <= v <= 1:
        raise ValueError(f"must be in [0, 1], got {v!r}")
    return v


def _align_mode(v: Any) -> str:
    if v not in ALIGN_MODES:
        raise ValueError(f"must be one of {', '.join(ALIGN_MODES)}, got {v!r}")
    return v


def _as_value_error(check: Any) -> Any:
    def validate(v: Any) -> Any:
        try:
            check(v)
        except ConfigError as exc:
            raise ValueError(exc.message) from None
        return v
    return validate


Number = Annotated[float, Field(allow_inf_nan=False)]
Temperature = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]            # a term's weight
Alpha = Annotated[float, Field(allow_inf_nan=False), AfterValidator(_in_unit_interval)]  # soft vs hard mix
LayerMapSpec = Annotated[Union[str, Sequence[int]], PlainValidator(_as_value_error(check_layer_map_spec))]
AlignMode = Annotated[str, PlainValidator(_align_mode)]


def _message(err: Mapping[str, Any]) -> str:
    field = ".".join(str(x) for x in err["loc"]) or "value"
    kind, v, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    got = f"got {type(v).__name__} {v!r}"
    if kind == "bool_type":
        return f"parameter {field} must be true or false, got {v!r}"
    if kind == "float_type":
        return f"parameter {field} must be a number, {got}"
    if kind == "int_type":
        return f"parameter {field} must be an integer, {got}"
    if kind == "finite_number":
        return f"parameter {field} must be a finite number, got {v!r}"
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"parameter {field} must be {bounds[kind]} {limit:g}, got {v!r}"
    if kind == "literal_error":
        return f"parameter {field} must be {ctx.get('expected')}, got {v!r}"
    if kind == "value_error":
        text = str(ctx.get("error", err["msg"]))
        return f"parameter {field} {text}" if text.startswith("must") else f"parameter {field}: {text}"
    return f"parameter {field}: {err['msg']}, got {v!r}"


def parse_params(method: str, model: type[MethodParams], values: Mapping[str, Any]) -> MethodParams:
    """``values`` validated by ``model``; a :class:`ConfigError` naming the method and the field."""
    unknown = set(values) - set(model.model_fields)
    if unknown:
        raise ConfigError(f"method {method!r} has no parameter(s) {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(sorted(model.model_fields)) or 'none'})")
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise ConfigError(f"method {method!r}: {_message(exc.errors()[0])}") from None


def model_from_dicts(method: str, defaults: Mapping[str, Any], paper: Mapping[str, Any]) -> type[MethodParams]:
    """A parameter model for a method that declares plain ``defaults`` / ``paper_defaults`` dicts
    (a plugin written before typed parameters): a switch stays a switch, a number a finite number
    (a temperature > 0), anything else is taken as given."""
    fields: dict[str, Any] = {}
    for k in {**paper, **defaults}:
        ref = defaults.get(k, paper.get(k))
        kind: Any = (bool if isinstance(ref, bool) else Temperature if k == "temperature" and isinstance(ref, (int, float))
                     else Number if isinstance(ref, (int, float)) else Any)
        fields[k] = (kind, ref)
    return create_model(f"{method.title().replace('-', '')}Params", __base__=MethodParams, **fields)


__all__ = ["Alpha", "AlignMode", "LayerMapSpec", "MethodParams", "Number", "Temperature", "Weight",
           "model_from_dicts", "parse_params"]
