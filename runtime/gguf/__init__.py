"""GGUF checkpoints (llama.cpp's single-file format): metadata, dequantization, Hugging Face names."""
