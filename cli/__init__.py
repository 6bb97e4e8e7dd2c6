"""The `lmc` command line: thin typer commands over the library."""
