"""Regexes for JSON numbers within bounds.

Integers get exact ranges for any bounds (the classic digit-by-digit split). Decimals get exact
ranges when the bounds are whole numbers; a fractional bound is rounded inward to the nearest
whole number (a sound subset: every generated value satisfies the schema, a few valid ones such
as 2.7 for `minimum: 2.5` are not produced). Bounded numbers never use an exponent.
"""

from __future__ import annotations

import math

INT = r"-?(?:0|[1-9][0-9]*)"
NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_ANY_FRACTION = r"(?:\.[0-9]+)?"
_NONZERO_FRACTION = r"\.[0-9]*[1-9][0-9]*"
_ZERO_FRACTION = r"(?:\.0+)?"


def integer_regex(lo: int | None, hi: int | None) -> str | None:
    """Canonical decimal integers in `[lo, hi]` (None: unbounded); None when the range is empty."""
    if lo is None and hi is None:
        return INT
    if lo is not None and hi is not None and lo > hi:
        return None
    parts = []
    if lo is None or lo < 0:
        parts.append("-" + _magnitudes(1 if hi is None or hi >= 0 else -hi, None if lo is None else -lo))
    if hi is None or hi >= 0:
        parts.append(_magnitudes(max(lo, 0) if lo is not None else 0, hi))
    return _alt(parts)


def number_regex(
    minimum: float | None, maximum: float | None, exclusive_min: bool = False, exclusive_max: bool = False
) -> str | None:
    """JSON numbers `x` with `minimum <= x <= maximum` (strict when exclusive); None if empty."""
    if minimum is None and maximum is None:
        return NUMBER
    lo, lo_incl = _inward(minimum, exclusive_min, math.ceil)
    hi, hi_incl = _inward(maximum, exclusive_max, math.floor)
    parts = []
    if hi is None or hi > 0 or (hi == 0 and hi_incl):
        low = (0, True) if lo is None or lo < 0 else (lo, lo_incl)
        parts.append(_decimal(*low, hi, hi_incl))
    if lo is None or lo < 0:
        small = (0, False) if hi is None or hi >= 0 else (-hi, hi_incl)
        parts.append(_prefixed("-", _decimal(*small, None if lo is None else -lo, lo_incl)))
    return _alt(parts)


def _inward(bound: float | None, exclusive: bool, rounding) -> tuple[int | None, bool]:
    """A whole-number bound at least as strict as `bound`, and whether it is inclusive."""
    if bound is None:
        return None, True
    whole = int(rounding(bound))
    if whole != bound:
        return whole, True
    return whole, not exclusive


def _decimal(lo: int, lo_incl: bool, hi: int | None, hi_incl: bool) -> str | None:
    """Non-negative decimals `I(.F)?` whose value lies between whole numbers lo and hi."""
    if hi is not None and (hi < lo or (hi == lo and not (lo_incl and hi_incl))):
        return None
    parts = []
    first_any = lo if lo_incl else lo + 1
    last_any = None if hi is None else hi - 1
    whole = _magnitudes(first_any, last_any) if last_any is None or first_any <= last_any else None
    if whole is not None:
        parts.append(f"(?:{whole}){_ANY_FRACTION}")
    if not lo_incl:
        parts.append(f"{lo}{_NONZERO_FRACTION}")
    if hi is not None and hi_incl and (hi > lo or lo_incl):
        parts.append(f"{hi}{_ZERO_FRACTION}")
    return _alt(parts)


def _magnitudes(a: int, b: int | None) -> str | None:
    """Canonical integers in `[a, b]`, 0 <= a."""
    if b is not None and a > b:
        return None
    digits_a = len(str(a))
    if b is None:
        return _alt([_same_length(str(a), "9" * digits_a), f"[1-9][0-9]{{{digits_a},}}"])
    parts = []
    for k in range(digits_a, len(str(b)) + 1):
        lo = max(a, 10 ** (k - 1) if k > 1 else 0)
        hi = min(b, 10**k - 1)
        if lo <= hi:
            parts.append(_same_length(str(lo), str(hi)))
    return _alt(parts)


def _same_length(lo: str, hi: str) -> str:
    """Digit strings of one length from `lo` to `hi`, split at the first differing digit."""
    if lo == hi:
        return lo
    if lo[0] == hi[0]:
        return lo[0] + "(?:" + _same_length(lo[1:], hi[1:]) + ")"
    rest = len(lo) - 1
    tail = f"[0-9]{{{rest}}}" if rest else ""
    parts = []
    first, last = int(lo[0]), int(hi[0])
    if lo[1:] != "0" * rest:
        parts.append(lo[0] + "(?:" + _same_length(lo[1:], "9" * rest) + ")")
        first += 1
    high_part = None
    if hi[1:] != "9" * rest:
        high_part = hi[0] + "(?:" + _same_length("0" * rest, hi[1:]) + ")"
        last -= 1
    if first <= last:
        parts.append((str(first) if first == last else f"[{first}-{last}]") + tail)
    if high_part:
        parts.append(high_part)
    return _alt(parts) or ""


def _prefixed(prefix: str, body: str | None) -> str | None:
    return None if body is None else prefix + "(?:" + body + ")"


def _alt(parts: list[str | None]) -> str | None:
    kept = [p for p in parts if p is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else "(?:" + "|".join(kept) + ")"
