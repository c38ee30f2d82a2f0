"""The Textual console. The only package of tui-caa that imports textual."""
