"""tui-caa: terminal CTI console and PBX integration service for dealership CRMs."""

__version__ = "0.1.0"
