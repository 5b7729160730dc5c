"""JSON text for Stripe-shaped objects, with exact decimal numbers.

Stripe sends a few quantities as JSON numbers (a meter event summary's `aggregated_value`).
Python's `json` would need a float for that, and a float turns 0.1 + 0.2 into
0.30000000000000004; a `Decimal` in the data is written here as the exact number it holds.
Everything else is what `json.dumps` writes. One function serves the CLI (`--json`, indented)
and the HTTP server (compact), so both print the same objects the same way.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from billing_cli.domain.money import decimal_str

_encode_str = json.encoder.encode_basestring  # ensure_ascii=False, as the CLI prints


class _HasDecimal(Exception):
    """Raised by the C encoder's fallback: this value needs the exact-decimal writer."""


def _refuse(value: Any) -> Any:
    raise (
        _HasDecimal
        if isinstance(value, Decimal)
        else TypeError(f"{type(value).__name__} is not JSON data")
    )


def _compact(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_encode_str(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, Decimal):
        out.append(decimal_str(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(_encode_str(str(key)))
            out.append(":")
            _compact(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _compact(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON data")


def _indented(value: Any, out: list[str], level: int, indent: str) -> None:
    if isinstance(value, dict) and value:
        inner = indent * (level + 1)
        out.append("{\n")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",\n")
            out.append(f"{inner}{_encode_str(str(key))}: ")
            _indented(item, out, level + 1, indent)
        out.append(f"\n{indent * level}}}")
    elif isinstance(value, list | tuple) and value:
        inner = indent * (level + 1)
        out.append("[\n")
        for index, item in enumerate(value):
            if index:
                out.append(",\n")
            out.append(inner)
            _indented(item, out, level + 1, indent)
        out.append(f"\n{indent * level}]")
    else:
        _compact(value, out)


def dumps(value: Any, *, indent: int | None = None) -> str:
    """`json.dumps(value, ensure_ascii=False)` (with `indent`), Decimals as exact numbers.

    The C encoder writes everything without a Decimal (nearly every object); only data that
    holds one takes the slower exact path."""
    try:
        if indent is None:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_refuse)
        return json.dumps(value, ensure_ascii=False, indent=indent, default=_refuse)
    except _HasDecimal:
        pass
    out: list[str] = []
    if indent is None:
        _compact(value, out)
    else:
        _indented(value, out, 0, " " * indent)
    return "".join(out)
