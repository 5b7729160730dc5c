"""Request parameters: Stripe's form encoding with nested brackets (v1) and JSON bodies (v2).

The SDK sends `recurring[meter]=mtr_1`, `items[0][price]=price_1`, `metadata[plan]=pro`,
`expand[0]=lines` (always indexed, booleans as `true`/`false`, None left out). `parse_form`
turns those pairs into nested dicts (a list index stays a dict key: `metadata[0]` is a valid
metadata key, so only the endpoint knows whether `[0]` means a position). `Params` then reads
typed values, remembers what was read, and `Params.done()` refuses anything left over with
Stripe's "Received unknown parameter" so that a typo never passes silently.

Every refusal is an `InvalidInput` whose `param` names the bracketed path, which the error
envelope reports as Stripe does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl

from billing_cli.errors import InvalidInput

MAX_FIELDS = 2_000  # a subscription has ≤ 20 items, metadata ≤ 50 keys: far below this
MAX_DEPTH = 5
_KEY_RE = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_PART_RE = re.compile(r"\[([^\[\]]*)\]")
_INDEX_RE = re.compile(r"0|[1-9][0-9]{0,3}", re.ASCII)


def param_error(param: str, message: str, *, code: str = "parameter_invalid") -> InvalidInput:
    error = InvalidInput(message)
    error.param = param
    error.code = code
    return error


def _path(parts: Iterable[str]) -> str:
    head, *rest = parts
    return head + "".join(f"[{p}]" for p in rest)


def _insert(tree: dict[str, Any], parts: list[str], value: str) -> None:
    node = tree
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise param_error(_path(parts[: depth + 1]), f"{_path(parts)} conflicts with a value")
        node = child
    last = parts[-1]
    if last == "":  # `expand[]=a&expand[]=b`: append, as Rails-style encoders send
        last = str(len(node))
    if last in node:
        raise param_error(_path(parts), f"{_path(parts)} is given more than once")
    node[last] = value


def parse_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """`[("items[0][price]", "p")]` → `{"items": {"0": {"price": "p"}}}`."""
    tree: dict[str, Any] = {}
    for count, (key, value) in enumerate(pairs):
        if count >= MAX_FIELDS:
            raise param_error(key, f"more than {MAX_FIELDS} parameters were sent")
        match = _KEY_RE.fullmatch(key)
        if match is None:
            raise param_error(key, f"the parameter name {key!r} is not valid")
        parts = [match[1], *_PART_RE.findall(match[2])]
        if len(parts) > MAX_DEPTH:
            raise param_error(key, f"{key} is nested more than {MAX_DEPTH} levels deep")
        if "" in parts[:-1]:
            raise param_error(key, f"the parameter name {key!r} is not valid")
        _insert(tree, parts, value)
    return tree


def parse_form(*texts: bytes | str) -> dict[str, Any]:
    """Form-encoded text (a query string, a body, or both) into nested dicts of strings."""
    pairs: list[tuple[str, str]] = []
    for text in texts:
        try:
            decoded = text.decode("utf-8") if isinstance(text, bytes) else text
        except UnicodeDecodeError:
            raise param_error("body", "the request is not UTF-8 text") from None
        pairs += parse_qsl(decoded, keep_blank_values=True)
    return parse_pairs(pairs)


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """`{"items": {"0": {"price": "p"}}}` → `{"items[0][price]": "p"}`: text values by the
    names the client sent them under (errors name them so)."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        elif isinstance(value, list):
            flat.update(flatten({str(i): v for i, v in enumerate(value)}, name))
        elif isinstance(value, str):
            flat[name] = value
    return flat


class Params:
    """Typed, tracked access to one level of parameters (`prefix` names it in errors)."""

    def __init__(self, tree: dict[str, Any], prefix: str = "") -> None:
        self._tree = tree
        self._prefix = prefix
        self._read: set[str] = {"expand"} if not prefix else set()
        self._children: list[Params] = []

    def name(self, key: str) -> str:
        return f"{self._prefix}[{key}]" if self._prefix else key

    def __contains__(self, key: str) -> bool:
        return key in self._tree

    def raw(self, key: str) -> Any:
        self._read.add(key)
        return self._tree.get(key)

    def text(self, key: str, *, required: bool = False, max_len: int = 5_000) -> str | None:
        value = self.raw(key)
        if value is None:
            if required:
                raise param_error(
                    self.name(key),
                    f"Missing required param: {self.name(key)}.",
                    code="parameter_missing",
                )
            return None
        if not isinstance(value, str):
            raise param_error(self.name(key), f"Invalid string: {self.name(key)} must be text.")
        if len(value) > max_len:
            raise param_error(
                self.name(key), f"{self.name(key)} is longer than {max_len} characters."
            )
        return value

    def required(self, key: str, *, max_len: int = 5_000) -> str:
        value = self.text(key, required=True, max_len=max_len)
        assert value is not None
        return value

    def int_text(self, key: str) -> str | None:
        """An integer kept as text: the api layer parses it (and names it in its own errors)."""
        value = self.raw(key)
        if isinstance(value, bool):
            raise param_error(self.name(key), f"Invalid integer: {value}")
        if isinstance(value, int):
            return str(value)
        return self.text(key)

    def integer(
        self, key: str, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        text = self.int_text(key)
        if text is None:
            return None
        if not re.fullmatch(r"-?[0-9]{1,18}", text, re.ASCII):
            raise param_error(self.name(key), f"Invalid integer: {text}")
        value = int(text)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise param_error(
                self.name(key),
                f"{self.name(key)} must be between {minimum} and {maximum}, got {value}.",
            )
        return value

    def flag(self, key: str) -> bool | None:
        value = self.raw(key)
        if value is None or isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise param_error(self.name(key), f"Invalid boolean: {value!r} (use true or false).")

    def choice(self, key: str, choices: tuple[str, ...], *, required: bool = False) -> str | None:
        value = self.text(key, required=required)
        if value is not None and value not in choices:
            raise param_error(
                self.name(key),
                f"Invalid {self.name(key)}: must be one of {', '.join(choices)}",
            )
        return value

    def sub(self, key: str, *, required: bool = False) -> Params | None:
        value = self.raw(key)
        if value is None or value == "":
            if required:
                raise param_error(
                    self.name(key),
                    f"Missing required param: {self.name(key)}.",
                    code="parameter_missing",
                )
            return None
        if not isinstance(value, dict):
            raise param_error(self.name(key), f"Invalid hash: {self.name(key)} must be a hash.")
        child = Params(value, self.name(key))
        self._children.append(child)
        return child

    def array(self, key: str) -> list[Any]:
        """A list sent as `key[0]…key[n]` (form) or a JSON array; positions must be 0..n-1."""
        value = self.raw(key)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        if not isinstance(value, dict):
            raise param_error(self.name(key), f"Invalid array: {self.name(key)} must be a list.")
        if not all(_INDEX_RE.fullmatch(k) for k in value) or sorted(map(int, value)) != list(
            range(len(value))
        ):
            raise param_error(
                self.name(key), f"Invalid array: {self.name(key)} must be indexed 0, 1, 2, …"
            )
        return [value[str(i)] for i in range(len(value))]

    def hashes(self, key: str) -> Iterator[Params]:
        for index, item in enumerate(self.array(key)):
            name = f"{self.name(key)}[{index}]"
            if not isinstance(item, dict):
                raise param_error(name, f"Invalid hash: {name} must be a hash.")
            child = Params(item, name)
            self._children.append(child)
            yield child

    def strings(self, key: str) -> dict[str, str] | None:
        """A string-to-string hash such as `metadata` or an event `payload`."""
        value = self.raw(key)
        if value is None:
            return None
        if value == "":  # Stripe: an empty string unsets a hash
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise param_error(
                self.name(key), f"Invalid hash: {self.name(key)} must map text to text."
            )
        return dict(value)

    def metadata(self) -> list[str] | None:
        """Stripe's `metadata[k]=v` as the api layer's `k=v` pairs (what `--metadata` takes)."""
        meta = self.strings("metadata")
        return None if meta is None else [f"{k}={v}" for k, v in meta.items()]

    def done(self) -> None:
        """Refuse any parameter no reader asked for (Stripe's `parameter_unknown`)."""
        for key in self._tree:
            if key not in self._read:
                raise param_error(
                    self.name(key),
                    f"Received unknown parameter: {self.name(key)}",
                    code="parameter_unknown",
                )
        for child in self._children:
            child.done()
