"""A small block-style YAML writer for generated config, so PyYAML is not a dependency.

It writes dicts, lists, strings, numbers, booleans and None. Every string is double-quoted
with YAML's escapes, so no value can turn into a number, a boolean or a second line; keys are
plain only when they are identifiers that no YAML 1.1 or 1.2 reader takes for a boolean or null.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words some YAML reader resolves to a boolean or null (YAML 1.1 includes y/n and on/off).
SPECIAL_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
# Printable for YAML, yet line breaks or a byte-order mark inside a scalar: always escaped.
ALWAYS_ESCAPED = frozenset({"\x85", "\u2028", "\u2029", "\ufeff"})
SHORT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def dump_yaml(data: Any) -> str:
    """Return `data` (nested dicts and lists of scalars) as a YAML document."""
    lines: list[str] = []
    _block(data, 0, lines)
    return "\n".join(lines) + "\n"


def quote(text: str) -> str:
    """Return `text` as a double-quoted YAML scalar that reads back as exactly `text`."""
    out = []
    for char in text:
        code = ord(char)
        if char in SHORT_ESCAPES:
            out.append(SHORT_ESCAPES[char])
        elif 32 <= code < 127 or (code > 127 and char.isprintable() and char not in ALWAYS_ESCAPED):
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _key(name: object) -> str:
    text = str(name)
    if PLAIN_KEY.fullmatch(text) and text.lower() not in SPECIAL_WORDS:
        return text
    return quote(text)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        # repr gives the shortest text that reads back to the same float; a bare exponent
        # ("1e-05") is a string to YAML 1.1 readers, so the mantissa always gets a dot.
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, str):
        return quote(value)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _block(value: Any, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            lines.append(pad + "{}")
        for name, item in value.items():
            if _nested(item):
                lines.append(f"{pad}{_key(name)}:")
                _block(item, indent + 2, lines)
            else:
                lines.append(f"{pad}{_key(name)}: {_inline(item)}")
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            lines.append(pad + "[]")
        for item in value:
            if _nested(item):
                start = len(lines)
                _block(item, indent + 2, lines)
                # The item's first line moves up beside the dash: "- alert: ...".
                lines[start] = pad + "- " + lines[start][indent + 2 :]
            else:
                lines.append(f"{pad}- {_inline(item)}")
    else:
        lines.append(pad + _scalar(value))


def _nested(value: Any) -> bool:
    if isinstance(value, Mapping):
        return bool(value)
    return isinstance(value, Sequence) and not isinstance(value, str) and bool(value)


def _inline(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "[]"
    return _scalar(value)
