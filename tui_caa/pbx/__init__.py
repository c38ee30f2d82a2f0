"""PBX drivers: one async interface (base.py), one module per PBX family. No textual, no database."""
