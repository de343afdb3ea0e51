"""Uplink payloads to readings and back, all from the models in ``wire.schema``.

Two decoders, one definition:

- ``decode_strict`` runs the models compiled into msgspec structs: parsed and checked in C, about
  six times cheaper than JSON parsing plus pydantic, but strict (RFC 3339 times with an offset,
  exact JSON types). It takes the well-formed traffic.
- ``validate`` runs the pydantic models themselves, lax (epoch times, integral floats): they take
  the rest, or say precisely what is wrong.

So the strict decoder accepts a subset of what the models accept, never more (tests/wire).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from enum import Enum
from types import UnionType
from typing import Annotated, Any, Protocol, Union, cast, get_args, get_origin

import msgspec
from pydantic import AwareDatetime, BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic.types import AllowInfNan, Strict

from wire.alarms import AlarmName
from wire.exceptions import SchemaViolation
from wire.schema import BatchIn, ReadingIn


class Reading(Protocol):
    """One decoded reading, whichever decoder produced it."""

    @property
    def time(self) -> datetime: ...
    @property
    def index_l(self) -> int: ...
    @property
    def flow_lph(self) -> float | None: ...
    @property
    def battery_pct(self) -> int | None: ...
    @property
    def signal_dbm(self) -> int | None: ...
    @property
    def alarms(self) -> Sequence[str]: ...


def decode_strict(payload: bytes) -> Sequence[Reading] | None:
    """The readings of a well-formed payload, or None: then ``validate`` judges it."""
    try:
        return [_READING.decode(payload)]
    except msgspec.DecodeError:
        try:
            readings: Sequence[Reading] = _BATCH.decode(payload).readings
        except msgspec.DecodeError:
            return None
        return readings


def validate(body: Any) -> Sequence[Reading]:
    """The readings of a parsed JSON payload, by the lax models.

    Raises:
        SchemaViolation: the first few problems, each as ``location: message``.
    """
    try:
        if isinstance(body, dict) and "readings" in body:
            return BatchIn.model_validate(body).readings
        return [ReadingIn.model_validate(body)]
    except ValidationError as exc:
        raise SchemaViolation(_describe(exc)) from None


def encode_reading(
    time: datetime,
    index_l: int,
    *,
    flow_lph: float | None = None,
    battery_pct: int | None = None,
    signal_dbm: int | None = None,
    alarms: list[AlarmName] | None = None,
) -> dict[str, Any]:
    """A reading as the JSON object a meter sends (optional fields left out when absent)."""
    body: dict[str, Any] = {"time": time.isoformat(), "index_l": index_l}
    if flow_lph is not None:
        body["flow_lph"] = flow_lph
    if battery_pct is not None:
        body["battery_pct"] = battery_pct
    if signal_dbm is not None:
        body["signal_dbm"] = signal_dbm
    if alarms:
        body["alarms"] = [alarm.value for alarm in alarms]
    return body


def _describe(exc: ValidationError) -> str:
    """Short enough for a log line and the quarantine row."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:3]:
        location = ".".join(str(part) for part in error["loc"]) or "payload"
        parts.append(f"{location}: {error['msg']}")
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)[:500]


# Pydantic constraints to msgspec.Meta keywords. Strict and AllowInfNan(False) need no keyword:
# the strict decoder takes no lax input, and msgspec's JSON never yields NaN or infinity.
_BOUNDS = ("gt", "ge", "lt", "le", "min_length", "max_length")


def _meta(metadata: Iterable[object]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, FieldInfo):
            found.update(_meta(item.metadata))
        elif isinstance(item, Strict) and item.strict:
            continue
        elif isinstance(item, AllowInfNan) and not item.allow_inf_nan:
            continue
        else:
            keys = [key for key in _BOUNDS if hasattr(item, key)]
            if len(keys) != 1:
                # A constraint the strict decoder would silently drop: refuse to start instead.
                raise TypeError(f"no msgspec equivalent for {item!r}")
            found[keys[0]] = getattr(item, keys[0])
    return found


def _constrained(annotation: Any, metadata: Iterable[object]) -> Any:
    meta = _meta(metadata)
    return Annotated[annotation, msgspec.Meta(**meta)] if meta else annotation


def _type(annotation: Any) -> Any:
    """The msgspec type that decodes strictly what ``annotation`` validates."""
    origin = get_origin(annotation)
    if annotation is AwareDatetime:
        return Annotated[datetime, msgspec.Meta(tz=True)]
    if annotation in (int, float, str, bool) or (
        isinstance(annotation, type) and issubclass(annotation, Enum)
    ):
        return annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _struct(annotation)
    if origin is Annotated:
        inner, *metadata = get_args(annotation)
        return _constrained(_type(inner), metadata)
    if origin in (Union, UnionType):
        return functools.reduce(operator.or_, [_type(arg) for arg in get_args(annotation)])
    if origin is list:
        (item,) = get_args(annotation)
        return list[_type(item)]  # type: ignore[misc]
    if annotation is type(None):
        return annotation
    raise TypeError(f"no msgspec equivalent for {annotation!r}")


@functools.cache
def _struct(model: type[BaseModel]) -> type[msgspec.Struct]:
    """``model`` as a msgspec struct: same fields, bounds, defaults and unknown-field rule."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for name, field in model.model_fields.items():
        annotation = _constrained(_type(field.annotation), field.metadata)
        if field.is_required():
            fields.append((name, annotation))
        elif field.default_factory is not None:
            factory = cast(Callable[[], Any], field.default_factory)
            fields.append((name, annotation, msgspec.field(default_factory=factory)))
        else:
            fields.append((name, annotation, field.default))
    return msgspec.defstruct(
        model.__name__,
        fields,
        forbid_unknown_fields=model.model_config.get("extra") == "forbid",
        frozen=bool(model.model_config.get("frozen")),
        # Scalars and lists of structs only: no reference cycles for the collector to find.
        gc=False,
    )


# Typed Any: the structs are built at import time, so their fields are known to mypy only
# through the ``Reading`` protocol.
_READING: msgspec.json.Decoder[Any] = msgspec.json.Decoder(_struct(ReadingIn), strict=True)
_BATCH: msgspec.json.Decoder[Any] = msgspec.json.Decoder(_struct(BatchIn), strict=True)
