"""`python -m lmc` is the `lmc` command."""

from lmc.cli.main import app

app(prog_name="lmc")
