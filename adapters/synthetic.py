"""A deterministic generator of realistic facts: a year of service under the four seed contracts.

`Synth(seed, tickets).facts()` yields, in an order the Ledger accepts: the contracts, the
asset registrations, then every other fact in recording order (the desk's own recording
time, `source_recorded_at`, which is the field time plus a few minutes, or a day or more for a
late entry). Every id and command id is a function of the seed and the size, so recording
the same run twice records nothing the second time.

The mix (all tunable through `Mix`): severities weighted per contract; acknowledgements
within minutes, dispatch and arrival within hours, resolution mostly within the contract's
target and some breaches; tickets over National Day 2025 (Oct 1-8); late entries;
corrections of arrival times; customer waits; consented extensions (seed 004); repeated
failures (two unfixed repairs on one serial and fault category, then a follow-up ticket);
follow-up calls and inspections on the contracts' schedules; spare units; fault causes;
part lines with consumables; loss claims; a few cancellations and reopenings.

`Synth.ticket(...)` is also the per-ticket pattern the bench generator writes straight
into the store (bench/generate.py), so both produce the same kind of ledger.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from domain import events as ev
from domain.terms import Period, Terms, load_contract_file, terms_from_mapping

CONTRACT_FILES = ("seed-000.toml", "seed-001.toml", "seed-002.toml", "seed-004.toml")
CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "contracts"
LOCAL = timedelta(hours=8)  # Asia/Shanghai, no daylight saving: local = UTC + 8 h

WINDOW_START = datetime(2025, 3, 1, tzinfo=UTC) - LOCAL  # 2025-03-01 00:00 local
WINDOW_END = datetime(2026, 3, 1, tzinfo=UTC) - LOCAL
NATIONAL_DAY = (datetime(2025, 10, 1, tzinfo=UTC) - LOCAL, datetime(2025, 10, 9, tzinfo=UTC) - LOCAL)
CONTRACT_TIME = datetime(2024, 1, 2, 1, 0, tzinfo=UTC)  # the contracts were signed before any delivery

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

SEVERITY_WEIGHTS = {"urgent": 0.08, "severe": 0.17, "technical_help": 0.25, "normal": 0.5,
                    "general": 0.72, "major": 0.28}
ASSET_TYPES = {  # contract id -> types it covers (the warranty's per-type terms add theirs)
    "K-000": ("recorder", "camera", "display"),
    "K-001": ("server", "switch"),
    "K-002": ("camera", "ups", "switch"),
    "K-004": ("analyser", "workstation"),
}
FAULTS = {
    "recorder": ("no_recording", "disk_failure", "power", "network"),
    "camera": ("no_image", "focus", "power", "network"),
    "display": ("no_display", "dead_pixels", "power"),
    "server": ("disk_failure", "boot", "memory", "power"),
    "switch": ("port_down", "power", "config"),
    "ups": ("battery", "no_output", "alarm"),
    "analyser": ("calibration", "sensor", "software", "power"),
    "workstation": ("boot", "software", "display", "power"),
}
PARTS = (  # part, quoted fen, cost fen, consumable
    ("hard disk 4TB", 68_000, 52_000, False),
    ("power supply unit", 23_000, 15_000, False),
    ("main board", 180_000, 121_000, False),
    ("lens assembly", 95_000, 70_000, False),
    ("memory module", 31_000, 24_000, False),
    ("cooling fan", 4_500, 2_500, True),
    ("fuse", 800, 300, True),
    ("cable set", 3_500, 1_800, True),
    ("battery pack", 42_000, 30_000, True),
    ("filter", 1_200, 600, True),
)
CAUSES = (("quality", 58), ("human", 12), ("environment", 6), ("installation_workmanship", 4),
          ("lightning", 4), ("natural_disaster", 2), ("force_majeure", 1), ("third_party", 3),
          ("third_party_deliberate", 2), ("unknown", 8))
CAUSE_NAMES = tuple(c for c, _ in CAUSES)
CAUSE_WEIGHTS = tuple(w for _, w in CAUSES)
CHANNELS = ("phone", "phone", "phone", "wechat", "web", "email")


@dataclass(frozen=True)
class Mix:
    """Shares of the realistic ingredients (per ticket unless said)."""

    cancel: float = 0.02
    severity_change: float = 0.05
    remote_fixed: float = 0.35  # of tickets tried remotely
    response_breach: float = 0.06
    arrival_breach: float = 0.07
    resolution_breach: float = 0.08
    customer_wait: float = 0.10
    parts_wait: float = 0.04
    extension: float = 0.35  # of tickets whose clock allows a consented extension
    plan: float = 0.5  # of tickets whose resolution a solution plan stops
    spare: float = 0.5  # of down assets whose contract promises a spare
    repeat: float = 0.04
    repeat_follow_ticket: float = 0.6  # a new ticket for the same fault within the window
    reopen: float = 0.03
    late: float = 0.06  # of eligible facts (arrival, repair, cause, evidence, sign-off)
    correction: float = 0.025
    evidence: float = 0.6
    signoff: float = 0.7
    loss_claim_breached: float = 0.3
    loss_claim: float = 0.004
    national_day: float = 0.03
    follow_up_missed: float = 0.1
    inspection_missed: float = 0.08
    after_repair_call: float = 0.5  # seed 004: follow-up after repairs


def _minutes(p: Period | None, default: int) -> int:
    if p is None:
        return default
    scale = {"minutes": 1, "hours": 60, "days": 1440, "working_days": 2016, "weeks": 10080,
             "months": 43200, "years": 525600}
    return p.amount * scale[p.unit]


@dataclass
class ContractInfo:
    id: str
    customer: str
    supplier: str
    name: str
    data: dict
    terms: Terms
    weight: float
    asset_types: tuple[str, ...]
    sev_weights: tuple[float, ...]

    def target(self, severity: str, clock: str, default: int) -> int:
        term = self.terms.clock(severity, clock)
        return _minutes(term.target, default) if term else default

    def extension_max(self, severity: str) -> int:
        term = self.terms.clock(severity, "resolution")
        return _minutes(term.max_extension, 0) if term and term.max_extension else 0

    def plan_stops(self, severity: str) -> bool:
        term = self.terms.clock(severity, "resolution")
        return bool(term and term.stopped_by_plan)

    def spare_trigger(self, severity: str) -> int | None:
        term = self.terms.clock(severity, "spare")
        return _minutes(term.trigger, 24 * 60) if term else None

    def pauses_on_customer(self, severity: str) -> bool:
        term = self.terms.clock(severity, "resolution")
        return bool(term and "customer" in term.paused_by)


@dataclass
class AssetInfo:
    id: str
    serial: str
    asset_type: str
    site: str
    contract: ContractInfo
    delivered: datetime
    accepted: datetime
    tickets: int = 0
    last_end: datetime | None = None  # the last time anything happened on its tickets
    replaced_at: datetime | None = None


def load_contracts(directory: Path | str | None = None) -> list[ContractInfo]:
    d = Path(directory) if directory else CONTRACTS_DIR
    out = []
    weights = {"K-000": 0.35, "K-001": 0.2, "K-002": 0.25, "K-004": 0.2}
    for name in CONTRACT_FILES:
        data = load_contract_file(str(d / name))
        terms = terms_from_mapping(data["terms"])
        types = tuple(dict.fromkeys([*ASSET_TYPES.get(data["id"], ("device",)), *terms.warranty.by_asset_type]))
        out.append(ContractInfo(
            id=data["id"], customer=data["customer"], supplier=data["supplier"], name=data.get("name", ""),
            data=data, terms=terms, weight=weights.get(data["id"], 0.25), asset_types=types,
            sev_weights=tuple(SEVERITY_WEIGHTS.get(s, 0.5) for s in terms.severities),
        ))
    return out


def contract_command_id(data: dict) -> str:
    import msgspec

    return f"demo-contract-{data['id']}-{hashlib.sha256(msgspec.json.encode(data)).hexdigest()[:16]}"


def _add_months(t: datetime, months: int) -> datetime:
    y, m = divmod(t.month - 1 + months, 12)
    day = min(t.day, [31, 29 if (t.year + y) % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m])
    return t.replace(year=t.year + y, month=m + 1, day=day)


@dataclass
class Synth:
    """One synthetic ledger. `facts()` yields it; `counts` says what went in."""

    seed: int = 7
    tickets: int = 3000
    assets: int | None = None
    contracts_dir: Path | str | None = None
    mix: Mix = field(default_factory=Mix)
    start: datetime = WINDOW_START
    end: datetime = WINDOW_END

    def __post_init__(self) -> None:
        self.tag = f"s{self.seed}n{self.tickets}"
        self.rng = random.Random(f"ticketledger-synthetic-{self.seed}-{self.tickets}")
        self.contracts = load_contracts(self.contracts_dir)
        self.counts: Counter[str] = Counter()
        self.n_assets = self.assets or max(24, self.tickets // 6)

    # --- contracts and assets -----------------------------------------------------------

    def contract_facts(self) -> list[ev.ContractRegistered]:
        return [
            ev.ContractRegistered(
                command_id=contract_command_id(c.data), id=c.id, occurred_at=CONTRACT_TIME,
                actor="ticketledger demo", channel="cli", customer=c.customer, supplier=c.supplier,
                customer_id=c.customer, name=c.name, terms=c.data["terms"],
            )
            for c in self.contracts
        ]

    def make_assets(self) -> list[AssetInfo]:
        rng, out = self.rng, []
        weights = [c.weight for c in self.contracts]
        for i in range(self.n_assets):
            c = self.contracts[i % len(self.contracts)] if i < len(self.contracts) else rng.choices(self.contracts, weights)[0]
            atype = rng.choice(c.asset_types)
            site = f"{c.customer}-site-{rng.randrange(max(2, self.n_assets // 40)):02d}"
            delivered = datetime(2024, 1, 15, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 520 * 1440))
            delivered = delivered.replace(hour=rng.randint(1, 9), second=0)  # 09:00-17:59 local
            accepted = delivered + timedelta(days=rng.randint(3, 30), hours=rng.randint(0, 6))
            out.append(AssetInfo(
                id=f"A-{self.tag}-{i:05d}", serial=f"SN{c.id[2:]}{self.seed:02d}{i:06d}", asset_type=atype,
                site=site, contract=c, delivered=delivered, accepted=accepted,
            ))
        return out

    def registration(self, a: AssetInfo, replaces: str | None = None, at: datetime | None = None) -> ev.AssetRegistered:
        return ev.AssetRegistered(
            command_id=f"{a.id}.0", id=a.id, occurred_at=at or a.delivered - DAY, actor=f"{a.contract.supplier}-sales",
            channel="desk", customer=a.contract.customer, serial=a.serial, model=f"{a.asset_type.upper()}-{a.serial[-3:]}",
            asset_type=a.asset_type, customer_id=a.contract.customer, site=a.site, contract_id=a.contract.id,
            replaces=replaces,
        )

    # --- tickets ------------------------------------------------------------------------

    def report_time(self, a: AssetInfo, rng: random.Random) -> datetime:
        lo = max(self.start, a.delivered + HOUR)
        if rng.random() < self.mix.national_day and lo < NATIONAL_DAY[0]:
            lo, hi = NATIONAL_DAY
        else:
            hi = self.end
        t = lo + timedelta(seconds=rng.randrange(int((hi - lo).total_seconds())))
        if rng.random() < 0.75:  # mostly in the day, local time
            day = (t + LOCAL).date()
            t = datetime(day.year, day.month, day.day, tzinfo=UTC) - LOCAL + timedelta(
                minutes=rng.randint(8 * 60, 19 * 60))
            t = max(t, lo)
        return t.replace(microsecond=0)

    def ticket(self, n: int, a: AssetInfo, t0: datetime, rng: random.Random, *,
               category: str | None = None, repeat: bool | None = None) -> list[tuple[datetime, ev.Fact]]:
        """Every fact of one ticket as (recording time, fact), in recording order."""
        out = self._ticket(n, a, t0, rng, category=category, repeat=repeat)
        out.sort(key=lambda x: x[0])  # stable: ties keep generation order
        return out

    def _ticket(self, n: int, a: AssetInfo, t0: datetime, rng: random.Random, *,
                category: str | None, repeat: bool | None) -> list[tuple[datetime, ev.Fact]]:
        mix, c, counts = self.mix, a.contract, self.counts
        tid = f"T-{self.tag}-{n:06d}"
        sev = rng.choices(c.terms.severities, c.sev_weights)[0]
        category = category or rng.choice(FAULTS.get(a.asset_type, ("general",)))
        repeat = rng.random() < mix.repeat if repeat is None else repeat
        cust = c.customer
        out: list[tuple[datetime, ev.Fact]] = []
        state = {"k": 0, "entry": t0, "last": t0}
        desk = f"desk-{cust}"

        def add(cls: type[ev.Fact], at: datetime, *, late: bool = False, actor: str = desk,
                channel: str = "desk", **kw: object) -> ev.Fact:
            at = max(at.replace(microsecond=0), state["last"] + timedelta(seconds=1))  # strictly after
            state["last"] = at
            if late:
                src = at + timedelta(minutes=rng.randint(26 * 60, 72 * 60))
                counts["late_entries"] += 1
            else:
                src = max(at + timedelta(seconds=rng.randint(20, 900)), state["entry"] + timedelta(seconds=1))
                state["entry"] = src
            f = cls(command_id=f"{tid}.{state['k']}", id=tid, occurred_at=at, actor=actor, channel=channel,
                    customer=cust, source_recorded_at=src, **kw)
            state["k"] += 1
            out.append((src, f))
            return f

        def maybe_late() -> bool:
            return rng.random() < mix.late

        tech = f"tech-{c.id}-{rng.randrange(12):02d}"
        down = rng.random() < 0.45
        add(ev.TicketOpened, t0, actor=desk, channel=rng.choice(CHANNELS), asset_id=a.id, severity=sev,
            fault_category=category, asset_down=down, reporter_ref=f"P-{cust}-{rng.randrange(400):04d}",
            description=f"{a.asset_type} {category.replace('_', ' ')}", contract_id=c.id, site=a.site)
        counts["tickets"] += 1
        if NATIONAL_DAY[0] <= t0 < NATIONAL_DAY[1]:
            counts["national_day_tickets"] += 1

        resp = c.target(sev, "response", 60)
        frac = rng.uniform(1.1, 3.0) if rng.random() < mix.response_breach else rng.uniform(0.05, 0.85)
        ack = add(ev.TicketAcknowledged, t0 + resp * frac * MIN, actor=f"{c.supplier}-hotline").occurred_at

        if rng.random() < mix.cancel:
            add(ev.TicketCancelled, ack + rng.randint(20, 600) * MIN, reason="customer withdrew the report: operator error")
            counts["cancellations"] += 1
            a.last_end = max(a.last_end or t0, state["last"])
            return out

        if rng.random() < mix.severity_change:
            others = [s for s in c.terms.severities if s != sev]
            if others:
                sev = rng.choice(others)
                add(ev.SeverityChanged, ack + rng.randint(3, 40) * MIN, severity=sev, reason="reassessed on the phone")
                counts["severity_changes"] += 1

        arr_t = c.target(sev, "arrival", 24 * 60)
        res_t = c.target(sev, "resolution", 48 * 60)
        t = state["last"]
        if "remote_resolution" in c.terms.clocks.get(sev, {}) or rng.random() < 0.3:
            rem_t = c.target(sev, "remote_resolution", 60)
            fixed = rng.random() < mix.remote_fixed and not repeat
            # Most remote sessions end inside the target; some run over it.
            share = rng.uniform(0.1, 0.6) if rng.random() < 0.85 else rng.uniform(0.6, 1.5)
            add(ev.RemoteFixAttempted, t + rem_t * share * MIN, actor=tech, fixed=fixed,
                notes="remote session" if fixed else "needs a visit")
            if fixed:
                counts["remote_fixes"] += 1
                res = add(ev.TicketResolved, state["last"] + rng.randint(2, 20) * MIN, actor=tech,
                          summary="fixed remotely").occurred_at
                self._after_resolution(add, rng, a, tid, tech, res, out, state)
                return out

        # --- on site --- (after a failed remote session the visit is usually decided at once)
        tried_remote = isinstance(out[-1][1], ev.RemoteFixAttempted)
        delay = rng.randint(1, 8) if tried_remote and rng.random() < 0.8 else rng.randint(5, 90)
        dispatch = add(ev.TechnicianDispatched, state["last"] + delay * MIN, actor=f"{c.supplier}-dispatch",
                       technician=tech).occurred_at
        budget = min(arr_t, res_t * 0.6)
        if rng.random() < mix.arrival_breach:
            arrival_at = t0 + arr_t * rng.uniform(1.05, 1.6) * MIN
        else:
            arrival_at = t0 + budget * rng.uniform(0.15, 0.85) * MIN
        arrival_at = max(arrival_at, dispatch + 15 * MIN)
        if rng.random() < mix.customer_wait:
            w0 = add(ev.WaitStarted, dispatch + rng.randint(5, 30) * MIN, actor=tech, reason="customer",
                     notes="site contact not available").occurred_at
            w1 = add(ev.WaitEnded, w0 + rng.randint(60, 8 * 60) * MIN, actor=tech, reason="customer").occurred_at
            arrival_at = max(arrival_at, w1 + rng.randint(15, 60) * MIN)
            counts["customer_waits"] += 1
        arrival = add(ev.TechnicianArrived, arrival_at, late=maybe_late(), actor=tech, technician=tech)
        t = arrival.occurred_at

        ext = c.extension_max(sev)
        if ext and rng.random() < mix.extension:
            add(ev.DeadlineExtended, t + rng.randint(20, 90) * MIN, actor=tech, clock="resolution",
                add_minutes=min(ext, rng.choice((12, 24, 36, 48)) * 60), consented_by=f"{cust}-engineer")
            res_t += min(ext, 24 * 60)
            counts["extensions"] += 1
        if c.plan_stops(sev) and rng.random() < mix.plan:
            add(ev.SolutionPlanProposed, state["last"] + rng.randint(30, 180) * MIN, actor=tech,
                summary="replace the failed module; part ordered")
            counts["solution_plans"] += 1
        trigger = c.spare_trigger(sev)
        spare = None
        if down and trigger is not None and rng.random() < mix.spare:
            spare = f"SPARE-{c.id}-{rng.randrange(50):03d}"
            add(ev.SpareUnitLent, max(state["last"] + 10 * MIN, t0 + trigger * rng.uniform(0.3, 1.1) * MIN),
                actor=tech, spare_serial=spare)
            counts["spares"] += 1
        if rng.random() < mix.parts_wait:
            p0 = add(ev.WaitStarted, state["last"] + rng.randint(20, 60) * MIN, actor=tech, reason="parts",
                     notes="part on order").occurred_at
            add(ev.WaitEnded, p0 + rng.randint(12 * 60, 60 * 60) * MIN, actor=tech, reason="parts")
            counts["parts_waits"] += 1

        if repeat:
            for _ in range(2):
                add(ev.RepairAttempted, state["last"] + rng.randint(40, 180) * MIN, actor=tech, fixed=False,
                    technician=tech, parts=self._parts(rng, 0.5), labour_fen=rng.choice((0, 20_000, 30_000)))
                d = add(ev.TechnicianDispatched, state["last"] + rng.randint(8 * 60, 30 * 60) * MIN,
                        actor=f"{c.supplier}-dispatch", technician=tech).occurred_at
                add(ev.TechnicianArrived, d + rng.randint(60, 300) * MIN, actor=tech, technician=tech)
            counts["repeat_failures"] += 1
            self.repeat_pairs.append((a, category, n))

        if rng.random() < mix.resolution_breach:
            res_at = t0 + res_t * rng.uniform(1.05, 2.0) * MIN
        else:
            res_at = t0 + res_t * rng.uniform(0.5, 0.95) * MIN
        repair_at = state["last"] + rng.randint(20, 240) * MIN
        repair = add(ev.RepairAttempted, min(repair_at, max(res_at - 15 * MIN, state["last"] + 20 * MIN)),
                     late=maybe_late(), actor=tech, fixed=True, technician=tech, parts=self._parts(rng, 0.55),
                     labour_fen=rng.choice((0, 0, 15_000, 30_000, 50_000)))
        if repair.parts:
            counts["part_lines"] += len(repair.parts)
            counts["consumable_lines"] += sum(p.consumable for p in repair.parts)
        cause = rng.choices(CAUSE_NAMES, CAUSE_WEIGHTS)[0]
        if repeat:
            cause = "quality"
        add(ev.FaultCauseDetermined, state["last"] + rng.randint(2, 30) * MIN, late=maybe_late(), actor=tech, cause=cause)
        res = add(ev.TicketResolved, max(res_at, state["last"] + 5 * MIN), actor=tech, summary="repaired on site").occurred_at
        if spare:
            add(ev.SpareUnitReturned, res + rng.randint(60, 240) * MIN, actor=tech, spare_serial=spare)
        if rng.random() < mix.reopen:
            add(ev.TicketReopened, state["last"] + rng.randint(6 * 60, 72 * 60) * MIN, actor=desk,
                reason="fault came back")
            d = add(ev.TechnicianDispatched, state["last"] + rng.randint(10, 120) * MIN, actor=f"{c.supplier}-dispatch",
                    technician=tech).occurred_at
            add(ev.TechnicianArrived, d + rng.randint(60, 600) * MIN, actor=tech, technician=tech)
            add(ev.RepairAttempted, state["last"] + rng.randint(30, 180) * MIN, actor=tech, fixed=True, technician=tech,
                parts=self._parts(rng, 0.7), labour_fen=0)
            res = add(ev.TicketResolved, state["last"] + rng.randint(5, 30) * MIN, actor=tech, summary="repaired again").occurred_at
            counts["reopenings"] += 1
        breached = res > t0 + res_t * MIN
        self._after_resolution(add, rng, a, tid, tech, res, out, state, breached=breached)

        if rng.random() < self.mix.correction and not repeat:
            # the technician's app logged the arrival late; the GPS trace shows the true time
            entries = sorted(range(len(out)), key=lambda i: (out[i][0], i))
            arrival_idx = next(i for i, (_, f) in enumerate(out) if f is arrival)
            version = entries.index(arrival_idx) + 1
            true_time = max(dispatch + 5 * MIN, arrival.occurred_at - rng.randint(10, 45) * MIN)
            if true_time < arrival.occurred_at:
                at = max(e for e, _ in out) + rng.randint(2 * 60, 48 * 60) * MIN
                f = ev.FactCorrected(
                    command_id=f"{tid}.{state['k']}", id=tid, occurred_at=at, actor=f"{c.supplier}-quality",
                    channel="desk", customer=cust, source_recorded_at=at, corrects_version=version,
                    changes={"occurred_at": true_time.isoformat().replace("+00:00", "Z")},
                    reason="arrival logged late by the technician's app; GPS trace shows the true time",
                )
                state["k"] += 1
                out.append((at, f))
                counts["corrections"] += 1
        return out

    def _after_resolution(self, add, rng, a, tid, tech, res, out, state, breached=False) -> None:  # noqa: ANN001
        mix = self.mix
        c = a.contract
        if rng.random() < mix.evidence:
            digest = hashlib.sha256(f"{tid}/service-report".encode()).hexdigest()
            add(ev.EvidenceAttached, res + rng.randint(5, 60) * MIN, late=rng.random() < mix.late, actor=tech,
                sha256=digest, media_type="application/pdf", size=rng.randint(80_000, 900_000),
                filename=f"{tid}-service-report.pdf", description="signed service report")
            self.counts["evidence"] += 1
        if rng.random() < mix.signoff:
            add(ev.CustomerSignedOff, res + rng.randint(30, 48 * 60) * MIN, actor=f"desk-{c.customer}",
                satisfaction=rng.choices((1, 2, 3, 4, 5), (2, 3, 10, 40, 45))[0])
        close = add(ev.TicketClosed, state["last"] + rng.randint(12 * 60, 72 * 60) * MIN, actor=f"desk-{c.customer}").occurred_at
        end = close
        if rng.random() < (mix.loss_claim_breached if breached and c.terms.losses_liable else mix.loss_claim):
            end = add(ev.LossClaimed, close + rng.randint(1, 10) * DAY, actor=f"{c.customer}-procurement",
                      amount_fen=rng.randint(50, 5000) * 100, description="production lost while the unit was down").occurred_at
            self.counts["loss_claims"] += 1
        a.last_end = max(a.last_end or end, end, max(e for e, _ in out))
        if c.id == "K-004" and rng.random() < mix.after_repair_call:
            self.after_repair.append((a, close + rng.randint(1, 7) * DAY))

    @staticmethod
    def _parts(rng: random.Random, p: float) -> list[ev.PartLine]:
        if rng.random() >= p:
            return []
        return [
            ev.PartLine(part=name, quantity=rng.choice((1, 1, 1, 2)), quoted_price_fen=q, cost_price_fen=cst, consumable=cons)
            for name, q, cst, cons in rng.sample(PARTS, rng.choice((1, 1, 2)))
        ]

    # --- asset life and schedules ------------------------------------------------------------

    def asset_life(self, a: AssetInfo, rng: random.Random) -> list[tuple[datetime, ev.Fact]]:
        """Delivery, installation, acceptance, then follow-ups and inspections on the contract's
        schedules (inside the window, some missed), until the asset was replaced."""
        c, out, k = a.contract, [], [1]
        stop = min(self.end, a.replaced_at) if a.replaced_at else self.end

        def add(cls: type[ev.Fact], at: datetime, **kw: object) -> None:
            at = at.replace(microsecond=0)
            src = at + timedelta(seconds=rng.randint(30, 1800))
            out.append((src, cls(command_id=f"{a.id}.{k[0]}", id=a.id, occurred_at=at, actor=f"{c.supplier}-service",
                                 channel="desk", customer=c.customer, source_recorded_at=src, **kw)))
            k[0] += 1

        add(ev.AssetDelivered, a.delivered)
        add(ev.AssetInstalled, a.delivered + timedelta(hours=rng.randint(20, 96)))
        add(ev.AssetAccepted, a.accepted)
        for term in c.terms.one_offs:
            anchor = a.delivered if term.anchor == "delivery" else a.accepted
            if anchor >= self.start - 30 * DAY and rng.random() > self.mix.follow_up_missed:
                add(ev.FollowUpDone, anchor + timedelta(hours=rng.randint(24, 24 * _minutes(term.within, 7 * 1440) // 1440)),
                    kind=term.kind, notes="first call after delivery")
                self.counts["follow_ups"] += 1
        for term in c.terms.schedules:
            anchor = a.delivered if term.anchor == "delivery" else a.accepted
            months = term.every.total_months if term.every.unit in ("months", "years") else 3
            first = term.start.total_months // months if term.start.unit in ("months", "years") else 0
            last = (term.until.total_months // months) if term.until and term.until.unit in ("months", "years") else 10_000
            for kper in range(first, last):
                p0, p1 = _add_months(anchor, kper * months), _add_months(anchor, (kper + 1) * months)
                if p0 >= stop:
                    break
                if p1 < self.start:
                    continue
                inspection = term.obligation == "inspection"
                if rng.random() < (self.mix.inspection_missed if inspection else self.mix.follow_up_missed):
                    continue
                at = p0 + DAY + timedelta(minutes=rng.randrange(max(60, int((p1 - p0 - DAY).total_seconds() // 60))))
                at = at.replace(hour=rng.randint(1, 9))  # 09:00-17:59 local
                if not (self.start <= at < stop):
                    continue
                if inspection:
                    add(ev.InspectionDone, at, report_ref=f"INSP-{a.id}-{kper:03d}")
                    self.counts["inspections"] += 1
                else:
                    add(ev.FollowUpDone, at, kind=term.kind)
                    self.counts["follow_ups"] += 1
        for asset, at in self.after_repair:
            if asset is a and at < stop:
                add(ev.FollowUpDone, at, kind="phone", notes="call after repair")
                self.counts["follow_ups"] += 1
        return out

    # --- the whole ledger ---------------------------------------------------------------------

    def facts(self) -> Iterator[ev.Fact]:
        """Contracts, asset registrations, then every other fact in recording order."""
        rng = self.rng
        self.repeat_pairs: list[tuple[AssetInfo, str, int]] = []
        self.after_repair: list[tuple[AssetInfo, datetime]] = []
        yield from self.contract_facts()
        assets = self.make_assets()
        regs: list[ev.Fact] = [self.registration(a) for a in assets]
        timed: list[tuple[datetime, ev.Fact]] = []
        lemon = [3.0 if rng.random() < 0.1 else 1.0 for _ in assets]  # some units fail more
        n = 0
        while n < self.tickets:
            a = rng.choices(assets, lemon)[0]
            t0 = self.report_time(a, rng)
            timed += self.ticket(n, a, t0, rng)
            n += 1
            if self.repeat_pairs and self.repeat_pairs[-1][2] == n - 1 and rng.random() < self.mix.repeat_follow_ticket \
                    and n < self.tickets:
                asset, category, _ = self.repeat_pairs[-1]
                t1 = (asset.last_end or t0) + timedelta(days=rng.randint(5, 40), minutes=rng.randrange(600))
                if t1 < self.end + 30 * DAY:
                    timed += self.ticket(n, asset, t1.replace(microsecond=0), rng, category=category, repeat=False)
                    self.counts["repeat_follow_tickets"] += 1
                    n += 1
        # repeated failures of recorders in warranty (seed 000): unconditional replacement
        replaced = 0
        for a, _, _ in self.repeat_pairs:
            if a.asset_type == "recorder" and a.contract.id == "K-000" and a.replaced_at is None and a.last_end:
                at = a.last_end + 2 * DAY
                new = AssetInfo(id=f"{a.id}-R", serial=f"{a.serial}R", asset_type=a.asset_type, site=a.site,
                                contract=a.contract, delivered=at, accepted=at + DAY)
                a.replaced_at = at
                regs.append(self.registration(new, replaces=a.id, at=at - HOUR))
                timed.append((at + HOUR, ev.AssetReplaced(
                    command_id=f"{a.id}.r", id=a.id, occurred_at=at, actor=f"{a.contract.supplier}-service",
                    channel="desk", customer=a.contract.customer, source_recorded_at=at + HOUR, by_asset=new.id,
                    reason="repeated failure in warranty: unconditional replacement (seed 000 §1.2)")))
                timed += [(s, f) for s, f in self.asset_life(new, rng) if f.occurred_at >= at]
                replaced += 1
        self.counts["replacements"] = replaced
        for a in assets:
            timed += self.asset_life(a, rng)
        self.counts["assets"] = len(regs)
        yield from regs
        timed.sort(key=lambda x: x[0])
        for _, f in timed:
            yield f


def national_day(t: datetime) -> bool:
    d = (t + LOCAL).date()
    return date(2025, 10, 1) <= d <= date(2025, 10, 8)
