"""The gateway's Prometheus metrics, in a registry of its own (one per service: tests run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from tui_caa.gateway.service import Gateway
from tui_caa.protocol.messages import LinkState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class GatewayMetrics:
    def __init__(self, gateway: Gateway) -> None:
        self.registry = CollectorRegistry()
        self.consoles = Gauge("tui_caa_consoles_connected", "Consoles with an open event stream",
                              registry=self.registry)
        self.events = Counter("tui_caa_events_delivered", "Messages delivered to consoles' event streams",
                              registry=self.registry)
        self.commands = Counter("tui_caa_commands", "API operations by name and result",
                                ["operation", "result"], registry=self.registry)
        self.logins = Counter("tui_caa_logins", "Login attempts by result", ["result"], registry=self.registry)
        self.screen_pop = Histogram(
            "tui_caa_screen_pop_seconds", "From a ring reaching the gateway to its customers being published",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry)
        outbox = Gauge("tui_caa_outbox_depth", "Call records waiting to reach the CRM", registry=self.registry)
        outbox.set_function(lambda: gateway.recorder.waiting)
        link = Gauge("tui_caa_pbx_link_up", "1 while the PBX link is connected and resynced", registry=self.registry)
        link.set_function(lambda: 1.0 if gateway.link is LinkState.CONNECTED else 0.0)
        gateway.on_screen_pop = self.screen_pop.observe

    def render(self) -> bytes:
        return generate_latest(self.registry)
