"""Dígitro: the PABX REST API with its SSE event channel, and EasyCall Record (see `driver`)."""

from tui_caa.pbx.digitro.driver import DigitroDriver

__all__ = ["DigitroDriver"]
