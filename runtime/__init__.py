"""The lmc runtime: an in-process continuous-batching LLM engine with a radix-tree KV cache."""
