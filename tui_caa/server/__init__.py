"""The integration service over HTTP (`tui-caa gateway`): an adapter above `tui_caa.gateway` that
logs consoles in and serves them the `Session` protocol. Never imported by a console."""
