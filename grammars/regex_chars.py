"""Characters of a regex: literals, escapes and `[...]` classes, read into code point sets.

Escapes follow Python `re` for str patterns, with `\\d \\w \\s` as under `re.ASCII`; a position
error (`RegexError`) names the offending escape or range. The structural parser
(`regex_parser`) extends this reader.
"""

from __future__ import annotations

import unicodedata

from lmc.grammars import charset as cs
from lmc.grammars.errors import RegexError

_SET_ESCAPES: dict[str, cs.CharSet] = {
    "d": cs.DIGIT,
    "D": cs.complement(cs.DIGIT),
    "w": cs.WORD,
    "W": cs.complement(cs.WORD),
    "s": cs.SPACE,
    "S": cs.complement(cs.SPACE),
}
_CHAR_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_HEX_LENGTHS = {"x": 2, "u": 4, "U": 8}
_OCTAL = "01234567"


class CharReader:
    """A cursor over the pattern (`i`: next unread index) that reads characters and classes."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0

    def error(self, pos: int, message: str, hint: str = "") -> RegexError:
        return RegexError(self.p, pos, message, hint)

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.p[j] if j < len(self.p) else ""

    def char_class(self) -> cs.CharSet:
        start = self.i
        self.i += 1
        negate = self.peek() == "^"
        if negate:
            self.i += 1
        parts: list[tuple[int, int]] = []
        first = True
        while True:
            if self.i >= len(self.p):
                raise self.error(start, "unterminated character set", "close it with ']'")
            if self.peek() == "]" and not first:
                self.i += 1
                break
            first = False
            item_start = self.i
            lo = self.class_item()
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.i += 1
                hi = self.class_item()
                if isinstance(lo, tuple) or isinstance(hi, tuple) or lo > hi:
                    raise self.error(item_start, "bad character range")
                parts.append((lo, hi))
            elif isinstance(lo, tuple):
                parts.extend(lo)
            else:
                parts.append((lo, lo))
        chars = cs.normalize(parts)
        return cs.complement(chars) if negate else chars

    def class_item(self) -> int | cs.CharSet:
        """One class member: a code point, or a set for `\\d`-style escapes."""
        if self.peek() != "\\":
            self.i += 1
            return ord(self.p[self.i - 1])
        if self.peek(1) in _SET_ESCAPES:
            self.i += 2
            return _SET_ESCAPES[self.p[self.i - 1]]
        if self.peek(1) == "b":
            self.i += 2
            return 0x08
        chars = self.escape(in_class=True)
        return chars[0][0]

    def escape(self, in_class: bool) -> cs.CharSet:
        start = self.i
        c = self.peek(1)
        if not c:
            raise self.error(start, "bad escape (end of pattern)", "write '\\\\' for a backslash")
        self.i += 2
        if c in _SET_ESCAPES:
            return _SET_ESCAPES[c]
        if c in _CHAR_ESCAPES:
            return cs.single(_CHAR_ESCAPES[c])
        if c in _HEX_LENGTHS:
            return self.hex_escape(start, _HEX_LENGTHS[c])
        if c == "N":
            return self.named_escape(start)
        three_digits = bool(self.peek()) and bool(self.peek(1)) and (self.peek() + self.peek(1)).isdigit()
        if c in _OCTAL and (c == "0" or in_class or (three_digits and _is_octal(self.p[start + 1 : start + 4]))):
            return self.octal_escape(start)
        if c.isdigit():
            raise self.error(start, "unsupported regex feature: backreference", NO_CONTEXT_HINT)
        if c in "bB":
            raise self.error(
                start,
                "unsupported regex feature: word boundary \\" + c,
                "spell out the characters allowed around the word instead",
            )
        if c.isascii() and c.isalpha():
            raise self.error(start, "bad escape \\" + c)
        return cs.single(c)

    def hex_escape(self, start: int, width: int) -> cs.CharSet:
        digits = self.p[self.i : self.i + width]
        if len(digits) != width or any(d not in "0123456789abcdefABCDEF" for d in digits):
            raise self.error(start, f"incomplete escape {self.p[start : self.i + width]}")
        value = int(digits, 16)
        if value > cs.MAX_CODE_POINT:
            raise self.error(start, "bad escape: code point above U+10FFFF")
        self.i += width
        return ((value, value),)

    def named_escape(self, start: int) -> cs.CharSet:
        end = self.p.find("}", self.i)
        if self.peek() != "{" or end < 0:
            raise self.error(start, "missing {NAME} after \\N")
        try:
            ch = unicodedata.lookup(self.p[self.i + 1 : end])
        except KeyError:
            raise self.error(start, "undefined character name in \\N{...}") from None
        self.i = end + 1
        return cs.single(ch)

    def octal_escape(self, start: int) -> cs.CharSet:
        j = start + 1
        while j < len(self.p) and j < start + 4 and self.p[j] in _OCTAL:
            j += 1
        value = int(self.p[start + 1 : j], 8)
        if value > 0o377:
            raise self.error(start, "octal escape value outside of range 0-0o377")
        self.i = j
        return ((value, value),)


NO_CONTEXT_HINT = (
    "constraints are compiled to finite automata, which cannot look around or refer back; "
    "rewrite the pattern without it"
)


def _is_octal(text: str) -> bool:
    return bool(text) and all(d in _OCTAL for d in text)
