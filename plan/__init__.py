"""The plan layer: what the compiler writes and the runtime reads, importing neither.

The IR and its expressions, the plan file (schema, codec, version), the language's call records
and options, the per-row interpreter (`instantiate`), the cache model and row order, errors and
source hashing. See plan/README.md.
"""
