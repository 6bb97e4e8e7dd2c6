"""The regular expressions SGLang's `sglang.lang.ir` defines for typed gens, with SGLang's values,
for programs that pass them as `gen(regex=...)`."""

REGEX_INT = r"[-+]?[0-9]+[ \n]*"
REGEX_FLOAT = r"[-+]?[0-9]*\.?[0-9]+[ \n]*"
REGEX_BOOL = r"(True|False)"
REGEX_STR = r"\"[\w\d\s]*\""  # SGLang's own; its note: a broader r"\".*\"" trips the interegular package

__all__ = ["REGEX_BOOL", "REGEX_FLOAT", "REGEX_INT", "REGEX_STR"]
