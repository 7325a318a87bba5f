"""Test support: a small libconfig reader (the syntax of Janus's ``.jcfg`` files), independent of the app's writer.

Covers what Janus's files use: groups ``name: { ... }``, settings ``name = value`` (``:`` also accepted, ``;`` or
``,`` optional), strings with escapes (adjacent strings join), integers (decimal, hex, ``L`` suffix), floats,
booleans, arrays ``[ ... ]``, lists ``( ... )``, and ``#``, ``//`` and ``/* */`` comments. Duplicate names in a
group are an error, as in libconfig.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["LibconfigError", "parse", "parse_file"]

_TOKEN = re.compile(
    r"""
    (?P<skip>\s+|\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<bool>(?i:true|false)(?![-A-Za-z0-9_*]))
  | (?P<float>[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?\d+[eE][-+]?\d+)
  | (?P<int>[-+]?(?:0[xX][0-9A-Fa-f]+|\d+)L{0,2})
  | (?P<name>[A-Za-z*][-A-Za-z0-9_*]*)
  | (?P<punct>[{}\[\]():=;,])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|.)", re.DOTALL)
_SIMPLE = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t", "f": "\f"}


class LibconfigError(ValueError):
    pass


def _unescape(body: str) -> str:
    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        if code.startswith("x") and len(code) == 3:
            return chr(int(code[1:], 16))
        if code in _SIMPLE:
            return _SIMPLE[code]
        raise LibconfigError(f"unknown escape \\{code}")

    return _ESCAPE.sub(one, body)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise LibconfigError(f"unexpected {text[pos : pos + 20]!r} at offset {pos}")
        kind = m.lastgroup
        assert kind is not None
        if kind != "skip":
            out.append((kind, m.group()))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise LibconfigError("unexpected end of input")
        if expected is not None and tok[1] != expected:
            raise LibconfigError(f"expected {expected!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def settings(self, closing: str | None) -> dict[str, Any]:
        group: dict[str, Any] = {}
        while True:
            tok = self.peek()
            if tok is None:
                if closing is not None:
                    raise LibconfigError(f"missing {closing!r}")
                return group
            if tok[1] == closing:
                self.take()
                return group
            kind, name = self.take()
            if kind != "name":
                raise LibconfigError(f"expected a setting name, got {name!r}")
            if name in group:
                raise LibconfigError(f"duplicate setting {name!r}")
            sep = self.take()[1]
            if sep not in (":", "="):
                raise LibconfigError(f"expected ':' or '=' after {name!r}, got {sep!r}")
            group[name] = self.value()
            nxt = self.peek()
            if nxt is not None and nxt[1] in (";", ","):
                self.take()

    def value(self) -> Any:
        kind, text = self.take()
        if text == "{":
            return self.settings("}")
        if text in ("[", "("):
            closing = "]" if text == "[" else ")"
            items: list[Any] = []
            while self.peek() is not None and self.peek() != ("punct", closing):
                items.append(self.value())
                if self.peek() == ("punct", ","):
                    self.take()
            self.take(closing)
            if text == "[" and any(isinstance(v, dict | list) for v in items):
                raise LibconfigError("arrays hold scalars only")
            return items
        if kind == "string":
            parts = [_unescape(text[1:-1])]
            while (nxt := self.peek()) is not None and nxt[0] == "string":
                parts.append(_unescape(self.take()[1][1:-1]))
            return "".join(parts)
        if kind == "bool":
            return text.lower() == "true"
        if kind == "int":
            digits = text.rstrip("L")
            return int(digits, 16) if "x" in digits.lower() else int(digits, 10)
        if kind == "float":
            return float(text)
        raise LibconfigError(f"unexpected {text!r}")


def parse(text: str) -> dict[str, Any]:
    """The top-level settings of a libconfig document, as nested dicts and lists."""
    return _Parser(text).settings(None)


def parse_file(path: Path) -> dict[str, Any]:
    return parse(path.read_text(encoding="utf-8"))
