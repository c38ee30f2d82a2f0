"""tui-caa: terminal CTI console and PBX integration service for dealership CRMs."""

import os

__version__ = "0.1.0"

# tui-caa uses no pydantic plugins; without this, the first model built scans the entry points of
# every installed distribution (about 25 ms of each start). Setting the variable yourself wins.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
