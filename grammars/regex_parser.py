"""Parse the subset of Python `re` syntax that constraints need into a `regex_ast` tree.

Supported: literals and escapes (`\\d \\w \\s \\D \\W \\S \\n \\t \\xhh \\uhhhh \\N{...}`, escaped
punctuation), classes with ranges and negation, `.`, `* + ? {m} {m,} {,n} {m,n}` (a trailing `?`
makes them lazy, which changes nothing for a language and is ignored), alternation, capturing,
non-capturing and named groups, comments `(?#...)`, and anchors `^ \\A $ \\Z` at the ends of the
pattern. `\\d \\w \\s` mean what they mean under `re.ASCII`; `.` is any character but newline, as
in Python. Anything else (backreferences, lookaround, inline flags, word boundaries, atomic groups,
possessive quantifiers) raises `RegexError` with a caret under the offending position.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lmc.grammars import charset as cs
from lmc.grammars.regex_ast import Chars, Concat, Node, Repeat
from lmc.grammars.regex_chars import NO_CONTEXT_HINT, CharReader
from lmc.grammars.regex_factor import alternation, literal, literal_alternation

MAX_REPEAT = 10_000

# Characters that mean themselves (anything but syntax, or a backslash before ASCII punctuation)
# and are not quantified: the lookahead leaves a quantified character to the general path.
_LITERAL_RUN = re.compile(r"(?:(?:[^\\\[\](){}|.*+?^$]|\\[ -/:-@\[-`{-~])(?![*+?{]))+")
_LITERAL = re.compile(r"\\?(.)", re.DOTALL)
_LITERAL_CHAR = r"(?:(?:[^\\\[\](){}|.*+?^$]|\\[ -/:-@\[-`{-~])(?![*+?{]))"
_LITERAL_WORDS = re.compile(rf"{_LITERAL_CHAR}*(?:\|{_LITERAL_CHAR}*)*")
_WORD_PIECES = re.compile(r"\\(.)|([^\\|]+)|\|", re.DOTALL)


def parse_regex(pattern: str) -> Node:
    """The syntax tree of `pattern`; raises `RegexError` naming the position of any problem."""
    return _Parser(pattern).parse()


class _Parser(CharReader):
    """Recursive descent over groups, alternation, sequences, quantifiers and anchors."""

    def __init__(self, pattern: str) -> None:
        super().__init__(pattern)
        self.spans: dict[str, list[tuple[str, Node]]] = {}

    def parse(self) -> Node:
        node = self.alternation(depth=0)
        if self.i < len(self.p):
            raise self.error(self.i, "unbalanced parenthesis", "remove the ')' or escape it as '\\)'")
        return node

    def alternation(self, depth: int) -> Node:
        words = self.literal_words(depth)
        if words is not None:
            return literal_alternation(words)
        options = [self.sequence(depth)]
        while self.peek() == "|":
            self.i += 1
            options.append(self.sequence(depth))
        return alternation(options)

    def sequence(self, depth: int) -> Node:
        items: list[Node] = []
        while self.i < len(self.p) and self.peek() not in "|)":
            if self.literal_run(items):
                continue
            start = self.i
            if self.anchor(depth, bool(items)):
                continue
            if self.p.startswith("(?#", self.i):
                end = self.p.find(")", self.i)
                if end < 0:
                    raise self.error(start, "missing ), unterminated comment")
                self.i = end + 1
                continue
            items.append(self.quantified(self.atom(depth), start))
        if self.peek() == ")" and depth == 0:
            raise self.error(self.i, "unbalanced parenthesis", "remove the ')' or escape it as '\\)'")
        return items[0] if len(items) == 1 else Concat(tuple(items))

    def literal_words(self, depth: int) -> list[str] | None:
        """An alternation made only of plain characters up to its closing `)` (an enum), read
        as its strings in one step; None (nothing consumed) for anything else."""
        found = _LITERAL_WORDS.match(self.p, self.i)
        end = found.end() if found else -1
        if found is None or "|" not in found.group() or not (self.p[end : end + 1] == ")" and depth > 0):
            return None
        self.i = end
        words = [""]
        for escaped, plain in _WORD_PIECES.findall(found.group()):
            if escaped or plain:
                words[-1] += escaped or plain
            else:
                words.append("")
        return words

    def literal_run(self, items: list[Node]) -> bool:
        """Append a run of plain characters in one step (long enums are mostly these)."""
        found = _LITERAL_RUN.match(self.p, self.i)
        if found is None:
            return False
        items.extend(map(literal, _LITERAL.findall(found.group())))
        self.i = found.end()
        return True

    def anchor(self, depth: int, after_items: bool) -> bool:
        """Consume `^`/`\\A` at the start or `$`/`\\Z` at the end of a top-level branch."""
        c = self.peek()
        start_anchor = c == "^" or self.p.startswith("\\A", self.i)
        end_anchor = c == "$" or self.p.startswith("\\Z", self.i)
        if not (start_anchor or end_anchor):
            return False
        width = 1 if c in "^$" else 2
        at_end = self.i + width == len(self.p) or self.p[self.i + width] == "|"
        if depth == 0 and ((start_anchor and not after_items) or (end_anchor and at_end)):
            self.i += width
            return True
        raise self.error(
            self.i,
            "anchors are only supported at the start or end of the whole pattern",
            "a constraint always matches the whole output; drop the anchor or move it to an end",
        )

    def atom(self, depth: int) -> Node:
        c = self.peek()
        if c == "(":
            return self.remembered(lambda: self.group(depth))
        if c == "[":
            return self.remembered(lambda: Chars(self.char_class()))
        if c == ".":
            self.i += 1
            return Chars(cs.DOT)
        if c == "\\":
            return Chars(self.escape(in_class=False))
        if c in "*+?" or (c == "{" and self.counted_bounds() is not None):
            raise self.error(self.i, "nothing to repeat", f"escape it as '\\{c}' to match it literally")
        self.i += 1
        return Chars(cs.single(c))

    def remembered(self, parse: Callable[[], Node]) -> Node:
        """`parse()` at the cursor, or the tree of an identical group or class parsed before
        (JSON-schema regexes repeat one string pattern per field). A group or class never reads
        past its closing bracket, so equal text means an equal tree."""
        start = self.i
        key = self.p[start : start + 8]
        for text, node in self.spans.get(key, ()):
            if self.p.startswith(text, start):
                self.i = start + len(text)
                return node
        node = parse()
        self.spans.setdefault(key, []).append((self.p[start : self.i], node))
        return node

    def group(self, depth: int) -> Node:
        start = self.i
        self.i += 1
        if self.peek() == "?":
            self.group_extension(start)
        body = self.alternation(depth + 1)
        if self.peek() != ")":
            raise self.error(start, "missing ), unterminated subpattern")
        self.i += 1
        return body

    def group_extension(self, start: int) -> None:
        """Accept `(?:` and `(?P<name>`; refuse every other `(?` form with what it is."""
        rest = self.p[self.i + 1 :]
        if rest.startswith(":"):
            self.i += 2
            return
        if rest.startswith("P<"):
            end = self.p.find(">", self.i)
            name = self.p[self.i + 3 : end] if end > 0 else ""
            if not name.isidentifier():
                raise self.error(self.i + 3, "bad group name", "write (?P<name>...) with a Python identifier")
            self.i = end + 1
            return
        features = [
            ("P=", "named backreference (?P=...)"),
            ("=", "lookahead (?=...)"),
            ("!", "negative lookahead (?!...)"),
            ("<=", "lookbehind (?<=...)"),
            ("<!", "negative lookbehind (?<!...)"),
            (">", "atomic group (?>...)"),
            ("(", "conditional group (?(...)...)"),
        ]
        for prefix, what in features:
            if rest.startswith(prefix):
                raise self.error(start, f"unsupported regex feature: {what}", NO_CONTEXT_HINT)
        if rest[:1] and rest[0] in "aiLmsux-":
            raise self.error(
                start,
                "unsupported regex feature: inline flags",
                "constraints compile without flags; spell out the cases, e.g. [Yy]es instead of (?i)yes",
            )
        raise self.error(start, "unknown extension (?" + rest[:1])

    def quantified(self, item: Node, start: int) -> Node:
        bounds = self.quantifier()
        if bounds is None:
            return item
        if self.peek() == "?":
            self.i += 1
        elif self.peek() == "+":
            raise self.error(
                self.i,
                "unsupported regex feature: possessive quantifier",
                "write the plain greedy quantifier; a possessive one can change which strings match",
            )
        if self.peek() in ("*", "+", "?") or (self.peek() == "{" and self.counted_bounds() is not None):
            raise self.error(self.i, "multiple repeat", "wrap the repeated part in (?:...) first")
        lo, hi = bounds
        return Repeat(item, lo, hi)

    def quantifier(self) -> tuple[int, int | None] | None:
        c = self.peek()
        simple = {"*": (0, None), "+": (1, None), "?": (0, 1)}
        if c in simple:
            self.i += 1
            return simple[c]
        if c != "{":
            return None
        found = self.counted_bounds()
        if found is None:
            return None
        (lo, hi), end = found
        if hi is not None and hi < lo:
            raise self.error(self.i, "min repeat greater than max repeat")
        if max(lo, hi or 0) > MAX_REPEAT:
            raise self.error(self.i, f"repetition bound above {MAX_REPEAT}", "use * or + for long runs")
        self.i = end
        return lo, hi

    def counted_bounds(self) -> tuple[tuple[int, int | None], int] | None:
        """`{m}`, `{m,}`, `{,n}`, `{m,n}` at `i` and the index after it; None if `{` is literal."""
        j = self.i + 1
        p = self.p
        lo_start = j
        while j < len(p) and p[j].isdigit() and p[j].isascii():
            j += 1
        lo_text = hi_text = p[lo_start:j]
        has_comma = j < len(p) and p[j] == ","
        if has_comma:
            j += 1
            hi_start = j
            while j < len(p) and p[j].isdigit() and p[j].isascii():
                j += 1
            hi_text = p[hi_start:j]
        if j >= len(p) or p[j] != "}" or not (lo_text or has_comma):
            return None
        lo = int(lo_text) if lo_text else 0
        hi = int(hi_text) if hi_text else None
        return (lo, hi), j + 1
