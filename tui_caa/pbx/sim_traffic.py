"""The simulator's random side: who calls, in which caller-ID format, and what the people do.

Everything here draws from the one `random.Random` the simulator owns, so a seed fixes it all.
Nothing here knows about calls or events: the simulator asks ("a caller", "how long to ring
before answering") and acts on the answers.

Caller IDs follow what Brazilian PBXs really present (reference/cti-features.md §4.2): the same
customer may arrive as ``051987654321``, ``51987654321``, ``+5551987654321``, ``5551987654321``,
bare local ``987654321`` or, from old trunks, the legacy 8-digit mobile ``5187654321``."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from tui_caa.phones import VALID_DDDS, DialRules, InvalidPhoneNumber, dial_string, normalize

__all__ = ["SimTraffic", "CallerGenerator", "Caller", "caller_id_forms", "ddr_forms"]

_DDDS = tuple(sorted(VALID_DDDS))  # sorted: a frozenset's order changes from one process to the next
ANONYMOUS_IDS = ("anonymous", "")


@dataclass(frozen=True)
class SimTraffic:
    """Random traffic and how the simulated people behave. Times are in seconds.

    Only `ring_timeout`, `outbound_timeout` and `park_timeout` (rules of the PBX, not choices of
    people) also apply in scripted mode, where the defaults of this class are used."""

    calls_per_minute: float = 6.0  # inbound arrivals (Poisson), over the whole PBX
    human_extensions: frozenset[str] = frozenset()  # driven by a person through commands: never auto-answer
    ring_timeout: float = 25.0  # an unanswered inbound call is missed (NO_ANSWER) after this
    outbound_calls_per_minute: float = 1.0  # calls the simulated (non-human) sellers place
    outbound_timeout: float = 30.0  # the far end of an outbound call did not answer
    park_timeout: float = 45.0  # a parked call nobody picked up rings back at whoever parked it
    hunt_group_share: float = 0.7  # inbound calls routed to an idle extension; the rest dial one direct
    answer_probability: float = 0.85  # a simulated seller answers (else the call rings out)
    answer_delay: tuple[float, float] = (2.0, 12.0)
    abandon_probability: float = 0.08  # the caller gives up while it rings
    talk_time: tuple[float, float] = (15.0, 150.0)  # calls of simulated sellers
    human_talk_time: tuple[float, float] = (60.0, 900.0)  # the far end of a person's call hangs up after
    remote_answer_probability: float = 0.65  # a customer answers an outbound call
    remote_busy_probability: float = 0.1  # ... or is busy; otherwise it rings out
    remote_answer_delay: tuple[float, float] = (2.0, 8.0)

    def __post_init__(self) -> None:
        for name in ("calls_per_minute", "outbound_calls_per_minute"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative")
        for name in ("ring_timeout", "outbound_timeout", "park_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be more than 0 seconds")
        for name in ("hunt_group_share", "answer_probability", "abandon_probability",
                     "remote_answer_probability", "remote_busy_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.remote_answer_probability + self.remote_busy_probability > 1:
            raise ValueError("remote_answer_probability + remote_busy_probability cannot exceed 1")
        for name in ("answer_delay", "talk_time", "human_talk_time", "remote_answer_delay"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"{name} must be a (low, high) range of seconds with 0 <= low <= high")
        object.__setattr__(self, "human_extensions", frozenset(self.human_extensions))


@dataclass(frozen=True, slots=True)
class Caller:
    raw: str  # what the PBX presents
    e164: str | None  # who it really is (None: anonymous); tests check raw normalises to this
    caller_name: str | None = None


@dataclass
class CallerGenerator:
    """Draws callers and DDRs for one simulated site."""

    rng: random.Random
    site_ddd: str
    known_numbers: Sequence[str] = ()
    shared_numbers: Sequence[str] = ()
    ddrs: Sequence[str] = ()
    main_number: str | None = None
    _forms: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def caller(self) -> Caller:
        """~50% existing customers, ~10% numbers several customers share, ~30% new local
        numbers, ~5% other DDDs, ~5% withheld."""
        roll = self.rng.random()
        if roll < 0.05:
            return Caller(self.rng.choice(ANONYMOUS_IDS), None)
        if roll < 0.55 and self.known_numbers:
            e164 = self.rng.choice(self.known_numbers)
        elif 0.55 <= roll < 0.65 and self.shared_numbers:
            e164 = self.rng.choice(self.shared_numbers)
        elif roll >= 0.95:
            e164 = random_number(self.rng, self.rng.choice(_DDDS), mobile=self.rng.random() < 0.8)
        else:
            e164 = random_number(self.rng, self.site_ddd, mobile=self.rng.random() < 0.7)
        return Caller(self.rng.choice(self.caller_forms(e164)), e164)

    def ddr(self) -> str | None:
        """The DDR the customer dialled, as the trunk presents it: mostly a traffic source's."""
        choices = list(self.ddrs)
        if self.main_number and (not choices or self.rng.random() < 0.35):
            choices = [self.main_number]
        if not choices:
            return None
        return self.rng.choice(ddr_forms(self.rng.choice(choices), self.site_ddd))

    def outbound_number(self) -> str:
        """An E.164 number a simulated seller calls back: a customer, or a new lead."""
        if self.known_numbers and self.rng.random() < 0.6:
            return self.rng.choice(self.known_numbers)
        return random_number(self.rng, self.site_ddd, mobile=self.rng.random() < 0.8)

    def caller_forms(self, e164: str) -> tuple[str, ...]:
        forms = self._forms.get(e164)
        if forms is None:
            forms = self._forms[e164] = caller_id_forms(e164, self.site_ddd)
        return forms


def caller_id_forms(e164: str, site_ddd: str) -> tuple[str, ...]:
    """The caller-ID shapes PBXs present for `e164`, keeping only those that really identify
    it (a bare local ``40041234`` would read as the national number 4004-1234, for instance)."""
    if e164.startswith("+55"):
        nsn = e164[3:]
        forms = ["+55" + nsn, "55" + nsn]
        if len(nsn) in (10, 11) and nsn[:2] in VALID_DDDS:  # geographic: DDD + subscriber
            ddd, subscriber = nsn[:2], nsn[2:]
            forms += ["0" + nsn, nsn, nsn]  # DDD+N twice: the most common shape on Brazilian trunks
            if ddd == site_ddd:
                forms.append(subscriber)
            if len(subscriber) == 9 and subscriber[0] == "9":
                forms.append(ddd + subscriber[1:])  # legacy 8-digit mobile
        else:  # 0800 / 4004 ...: national form only
            forms.append(("0" + nsn) if len(nsn) > 8 else nsn)
    else:
        forms = [e164, "00" + e164[1:]]
    return tuple(form for form in forms if _identifies(form, e164, site_ddd)) or (e164,)


def ddr_forms(e164: str, site_ddd: str) -> tuple[str, ...]:
    """DDRs come from the trunk's DNIS: DDD+N, the bare local digits, 0+DDD+N or E.164."""
    if not e164.startswith("+55"):
        return (e164,)
    nsn = e164[3:]
    forms = [nsn, nsn, "0" + nsn, "+55" + nsn]
    if nsn[:2] == site_ddd and len(nsn) in (10, 11):
        forms += [nsn[2:], nsn[2:]]
    return tuple(form for form in forms if _identifies(form, e164, site_ddd)) or (e164,)


def _identifies(raw: str, e164: str, site_ddd: str) -> bool:
    try:
        return normalize(raw, default_ddd=site_ddd).e164 == e164
    except InvalidPhoneNumber:
        return False


def random_number(rng: random.Random, ddd: str, *, mobile: bool) -> str:
    """A valid Brazilian number (E.164) in `ddd` that is probably nobody's."""
    for _ in range(50):
        if mobile:
            subscriber = "9" + rng.choice("6789") + "".join(rng.choice("0123456789") for _ in range(7))
        else:
            subscriber = rng.choice("2345") + "".join(rng.choice("0123456789") for _ in range(7))
        e164 = "+55" + ddd + subscriber
        if _identifies(e164, e164, ddd):
            return e164
    raise ValueError(f"cannot draw a valid {'mobile' if mobile else 'fixed'} number in DDD {ddd}")  # pragma: no cover


# ---- what simulated people do: each answer is (what happens, after how many seconds) ----

def ringing_plan(rng: random.Random, traffic: SimTraffic, *, auto_answer: bool, caller_may_abandon: bool
                 ) -> tuple[str, float]:
    """While a call rings: 'answer', 'abandon' (the caller gives up) or 'timeout'."""
    plan = ("timeout", traffic.ring_timeout)
    if caller_may_abandon and rng.random() < traffic.abandon_probability:
        plan = min(plan, ("abandon", rng.uniform(3.0, traffic.ring_timeout)), key=lambda p: p[1])
    if auto_answer and rng.random() < traffic.answer_probability:
        plan = min(plan, ("answer", rng.uniform(*traffic.answer_delay)), key=lambda p: p[1])
    return plan


def far_end_plan(rng: random.Random, traffic: SimTraffic) -> tuple[str, float]:
    """An outbound call to the outside: 'answer', 'busy' or 'timeout'."""
    roll = rng.random()
    if roll < traffic.remote_answer_probability:
        return "answer", rng.uniform(*traffic.remote_answer_delay)
    if roll < traffic.remote_answer_probability + traffic.remote_busy_probability:
        return "busy", rng.uniform(1.0, 4.0)
    return "timeout", traffic.outbound_timeout


def talk_time(rng: random.Random, traffic: SimTraffic, *, human: bool) -> float:
    return rng.uniform(*(traffic.human_talk_time if human else traffic.talk_time))


def dial_string_for(e164: str, site_ddd: str) -> str:
    """How the PBX dials `e164` from the site: local numbers without DDD, others with trunk 0."""
    return dial_string(e164, _dial_rules(site_ddd))


@lru_cache(maxsize=8)
def _dial_rules(site_ddd: str) -> DialRules:
    return DialRules(site_ddd=site_ddd)
