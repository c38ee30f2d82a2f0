"""The session of a console in the gateway's own process: the `Session` protocol served straight
from the gateway and the CRM store (the HTTP API serves remote consoles with one of these each)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from tui_caa.domain import (
    Appointment,
    CallRecord,
    Contact,
    Customer,
    CustomerSaved,
    HistoryCursor,
    HistoryFilter,
    HistoryPage,
    LifecycleEntry,
    PhoneChange,
    PhoneLookup,
    PhoneSlot,
    Seller,
    TrafficSource,
    Vehicle,
)
from tui_caa.domain.telephony import Capability
from tui_caa.gateway.hub import Subscription
from tui_caa.gateway.service import Gateway
from tui_caa.phones import CallerIdRules
from tui_caa.protocol.messages import GatewayMessage
from tui_caa.protocol.principal import NotAllowed, Principal
from tui_caa.protocol.session import Session


class LocalSession(Session):
    """The session of a console running in the same process as the gateway."""

    def __init__(self, gateway: Gateway, principal: Principal, *, seller: Seller | None = None) -> None:
        self.principal = principal
        self.seller = seller
        self._gateway = gateway
        self._store = gateway.store
        self._subscribed: Subscription | None = None

    @property
    def _subscription(self) -> Subscription:
        """Made on first use: a session that only sends commands (an API request) never subscribes."""
        if self._subscribed is None:
            self._subscribed = self._gateway.subscribe(self.principal)
        return self._subscribed

    def messages(self) -> AsyncIterator[GatewayMessage]:
        """The first message is always a StateSnapshot; so is any message after a resync."""
        self._subscription.resync()
        return self._subscription

    def capabilities(self) -> frozenset[Capability]:
        return self._gateway.capabilities

    def caller_id_rules(self) -> CallerIdRules:
        """How this site reads numbers (its DDD…), so that a console can check what is typed."""
        return self._gateway.caller_id_rules

    # ---- calls ----
    async def dial(self, number: str) -> str:
        return await self._gateway.dial(self.principal, number)

    async def answer(self, call_id: str) -> None:
        await self._gateway.answer(self.principal, call_id)

    async def hangup(self, call_id: str) -> None:
        await self._gateway.hangup(self.principal, call_id)

    async def hold(self, call_id: str) -> None:
        await self._gateway.hold(self.principal, call_id)

    async def resume(self, call_id: str) -> None:
        await self._gateway.resume(self.principal, call_id)

    async def blind_transfer(self, call_id: str, target: str) -> None:
        await self._gateway.blind_transfer(self.principal, call_id, target)

    async def consult(self, call_id: str, target: str) -> None:
        await self._gateway.consult(self.principal, call_id, target)

    async def complete_transfer(self, call_id: str) -> None:
        await self._gateway.complete_transfer(self.principal, call_id)

    async def cancel_transfer(self, call_id: str) -> None:
        await self._gateway.cancel_transfer(self.principal, call_id)

    async def send_dtmf(self, call_id: str, digits: str) -> None:
        await self._gateway.send_dtmf(self.principal, call_id, digits)

    async def park(self, call_id: str) -> str:
        return await self._gateway.park(self.principal, call_id)

    async def pickup(self, slot_or_extension: str) -> None:
        await self._gateway.pickup(self.principal, slot_or_extension)

    async def monitor(self, mode: Capability, target_extension: str) -> None:
        await self._gateway.monitor(self.principal, mode, target_extension)

    async def play_recording(self, pbx_call_id: str, number: str | None = None) -> str:
        extension = self.principal.own_extension()
        record = await self._store.get_call(pbx_call_id, extension)
        return await self._gateway.play_recording(self.principal, record, number)

    # ---- CRM ----
    async def lookup(self, number: str) -> PhoneLookup:
        return await self._store.lookup_by_phone(number)

    async def search_customers(self, query: str, limit: int = 50) -> list[Customer]:
        return await self._store.search_customers(query, limit=limit)

    async def get_customer(self, customer_id: int) -> Customer:
        return await self._store.get_customer(customer_id)

    async def create_customer(self, customer: Customer) -> CustomerSaved:
        return await self._store.create_customer(customer)

    async def update_customer(self, customer: Customer) -> CustomerSaved:
        return await self._store.update_customer(customer, seller_id=self._seller_id)

    async def associate_phone(self, customer_id: int, slot: PhoneSlot, number: str) -> PhoneChange:
        return await self._store.associate_phone(customer_id, slot, number, seller_id=self._seller_id)

    async def vehicles_of(self, customer_id: int) -> list[Vehicle]:
        return await self._store.vehicles_of(customer_id)

    async def add_vehicle(self, vehicle: Vehicle) -> Vehicle:
        return await self._store.add_vehicle(vehicle)

    async def create_contact(self, contact: Contact) -> Contact:
        """A contact opened during a call takes the traffic source of the call's DDR (locked)."""
        ddr = None
        if contact.call_id and self.principal.extension:
            call = self._gateway.state.call(self.principal.extension, contact.call_id)
            ddr = call.ddr if call else None
        if contact.seller_id is None and self.seller is not None:
            contact = contact.model_copy(update={"seller_id": self.seller.id})
        return await self._store.create_contact(contact, ddr=ddr)

    async def update_contact(self, contact: Contact) -> Contact:
        return await self._store.update_contact(contact)

    async def create_appointment(self, appointment: Appointment) -> Appointment:
        if appointment.seller_id is None and self.seller is not None:
            appointment = appointment.model_copy(update={"seller_id": self.seller.id})
        return await self._store.create_appointment(appointment)

    async def lifecycle(self, customer_id: int) -> list[LifecycleEntry]:
        return await self._store.lifecycle(customer_id)

    async def call_history(self, filters: HistoryFilter | None = None, after: HistoryCursor | None = None,
                           limit: int = 50, extension: str | None = None) -> HistoryPage:
        """The principal's own extension; a supervisor may name another one."""
        if extension and extension != self.principal.extension and not self.principal.sees_everything:
            raise NotAllowed("agents see the history of their own extension only", field="extension")
        return await self._store.call_history(extension or self.principal.own_extension(), filters,
                                              after=after, limit=limit)

    async def get_call(self, pbx_call_id: str) -> CallRecord:
        return await self._store.get_call(pbx_call_id, self.principal.own_extension())

    async def traffic_sources(self) -> list[TrafficSource]:
        return await self._store.traffic_sources()

    async def sellers(self) -> list[Seller]:
        """Without their extension passwords: a console never needs them."""
        return [s.model_copy(update={"extension_password": None}) for s in await self._store.sellers()]

    async def simulate_call(self) -> str:
        """Built-in simulator only: a customer calls this extension now (to try the console)."""
        from tui_caa.pbx.sim import SimulatorDriver

        driver = self._gateway.driver
        if not isinstance(driver, SimulatorDriver):
            raise NotAllowed(f"only the built-in simulator can make a call ring; this PBX is {driver.label}",
                             field="pbx")
        return await driver.ring_random(self.principal.own_extension())

    async def close(self) -> None:
        if self._subscribed is not None:
            self._subscribed.close()

    @property
    def _seller_id(self) -> int | None:
        return self.seller.id if self.seller else None
