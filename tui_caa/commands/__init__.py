"""One module per `tui-caa` command; each turns arguments and settings into an exit code."""
