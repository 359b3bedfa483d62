"""Typed input declarations: they validate a partner's risk and describe it as JSON Schema.
One input is an InputSpec (input_spec.py); an edition's inputs are an InputSet, read by
one generated function in the common case (input_fast.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .errors import InputError, InputErrors
from .input_fast import Reader, generate, json_writer
from .input_spec import INPUT_TYPES, MAX_YEAR, MIN_YEAR, InputSpec, parse_date, parse_datetime

__all__ = [
    "INPUT_TYPES",
    "MAX_YEAR",
    "MIN_YEAR",
    "InputSet",
    "InputSpec",
    "parse_date",
    "parse_datetime",
]

#: values that are their own JSON
_PLAIN = (str, int, bool)


@dataclass(frozen=True)
class InputSet:
    """The declared inputs of one edition, in declaration order."""

    specs: tuple[InputSpec, ...]
    by_name: dict[str, InputSpec] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {s.name: s for s in self.specs})

    @cached_property
    def _read(self) -> Reader:
        return generate(self.specs)

    @cached_property
    def _writers(self) -> dict[str, tuple[Callable[[Any], Any] | None, InputSpec]]:
        return {s.name: (json_writer(s), s) for s in self.specs}

    def parse(self, raw: Any, prefix: str = "risk") -> dict[str, Any]:
        """Validate a whole risk; raises InputErrors listing every problem, first one first."""
        try:
            # the common case, a valid risk of plain values (pricing/input_fast.py)
            return self._read(raw)
        except Exception:
            return self.parse_carefully(raw, prefix)

    def parse_carefully(self, raw: Any, prefix: str = "risk") -> dict[str, Any]:
        """`parse` one field at a time, collecting every problem with its field's name."""
        if not isinstance(raw, dict):
            raise InputErrors([InputError(prefix, "must be an object")])
        errors: list[InputError] = []
        by_name = self.by_name
        for key in raw:
            if key not in by_name:
                errors.append(
                    InputError(
                        f"{prefix}.{key}", "is not an input of this product", "unknown_input"
                    )
                )
        values: dict[str, Any] = {}
        for spec in self.specs:
            param = f"{prefix}.{spec.name}"
            raw_value = raw.get(spec.name)
            if raw_value is None:
                if spec.required:
                    errors.append(InputError(param, "is required", "missing_input"))
                values[spec.name] = spec.default
                continue
            try:
                values[spec.name] = spec.parse(raw_value, param)
            except InputError as exc:
                errors.append(exc)
        if errors:
            raise InputErrors(errors)
        return values

    def to_json(self, values: dict[str, Any]) -> dict[str, Any]:
        writers = self._writers
        out = {}
        for name, value in values.items():
            if value is None:
                continue
            write, spec = writers[name]
            if write is None and type(value) in _PLAIN:
                out[name] = value
            else:
                out[name] = spec.to_json(value) if write is None else write(value)
        return out

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": False,
            "required": [s.name for s in self.specs if s.required],
            "properties": {s.name: s.json_schema() for s in self.specs},
        }
