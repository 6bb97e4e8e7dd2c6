"""`lmc serve`: one engine behind an OpenAI-compatible HTTP API (see README.md here)."""

from lmc.runtime.server.app import Server
from lmc.runtime.server.serve import serve

__all__ = ["Server", "serve"]
