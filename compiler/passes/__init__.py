"""Compiler passes: each a plain function Graph -> Graph, switchable off by name."""
