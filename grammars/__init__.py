"""Constraint compilers: regex, JSON schema, choices and lark grammars to token-level automata."""
