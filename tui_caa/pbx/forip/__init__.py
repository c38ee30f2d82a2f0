"""ForIP (Asterisk with ForIP Manager): the CRM API, optional AMI, call tickets in PostgreSQL."""

from tui_caa.pbx.forip.driver import ForipDriver
from tui_caa.pbx.forip.tickets import CallTicket, DatabaseError, parse_recording_ref, recording_ref

__all__ = ["CallTicket", "DatabaseError", "ForipDriver", "parse_recording_ref", "recording_ref"]
