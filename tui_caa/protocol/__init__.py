"""What a console and the gateway say to each other, in-process or over HTTP: who is asking
(`principal`), what the gateway pushes (`messages`), what a console may ask (`session`) and how all
of it travels as JSON (`wire`). Imports only `tui_caa.domain` and `tui_caa.phones`, so that a remote
console never loads the CRM stack or a PBX driver."""
