"""A console's side of a remote gateway: `RemoteSession` speaks the gateway's HTTP API and event
stream (httpx) and implements the same `Session` protocol as the in-process one. Imports only
`tui_caa.protocol`, `tui_caa.domain` and `tui_caa.phones`: never the CRM stack or a PBX driver."""

from tui_caa.remote.session import RemoteSession

__all__ = ["RemoteSession"]
