"""A conjugation run: inputs and their charges, phases in order, in-process results. Pure.

Every decision returns the run after it and the process issues it raised: each issue becomes
an event that batch_records turns into an exception on the run's batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from services.common.domain import bounds, etags, units
from services.common.domain.errors import FailedPrecondition, Violations
from services.common.domain.roles import Role
from services.conjugation.runs import stoichiometry
from services.conjugation.runs.names import run_name
from services.conjugation.runs.stoichiometry import Amount, Figure

# Who creates runs and records on them.
CREATOR_ROLES = (Role.SUPERVISOR, Role.PROCESS_ENGINEER, Role.INTEGRATION)
RECORDER_ROLES = (Role.OPERATOR, Role.SUPERVISOR, Role.INTEGRATION)
RESULT_ROLES = (Role.QC_ANALYST, Role.SUPERVISOR, Role.INTEGRATION)

DEFAULT_CHARGE_TOLERANCE = Decimal("2")
DEFAULT_DAR_SUM_TOLERANCE = Decimal("0.005")
DEFAULT_DAR_MEAN_TOLERANCE = Decimal("0.05")
MAX_DAR = 8
MAX_ACCEPTANCE = 16
MAX_PARAMETERS = 32


class Phase(StrEnum):
    SETUP = "setup"
    REDUCTION = "reduction"
    CONJUGATION = "conjugation"
    QUENCH = "quench"
    PURIFICATION = "purification"
    COMPLETE = "complete"


ORDER = tuple(Phase)
# The phases that run (started, then ended); SETUP is before, COMPLETE after.
RUNNING = (Phase.REDUCTION, Phase.CONJUGATION, Phase.QUENCH, Phase.PURIFICATION)


class ChargeKind(StrEnum):
    REDUCING_AGENT = "reducing_agent"
    DRUG_LINKER = "drug_linker"
    QUENCH = "quench"


# Which figure of the stoichiometry a charge is checked against, and in which phase it goes in.
CHARGE_FIGURE = {
    ChargeKind.REDUCING_AGENT: "reducer volume",
    ChargeKind.DRUG_LINKER: "drug-linker volume",
    ChargeKind.QUENCH: "quench volume",
}
CHARGE_PHASE = {
    ChargeKind.REDUCING_AGENT: Phase.REDUCTION,
    ChargeKind.DRUG_LINKER: Phase.CONJUGATION,
    ChargeKind.QUENCH: Phase.QUENCH,
}


class Attribute(StrEnum):
    AVERAGE_DAR = "average_dar"
    FREE_DRUG_LINKER = "free_drug_linker"
    MONOMER = "monomer"
    HMW = "hmw"
    CONCENTRATION = "concentration"
    ENDOTOXIN = "endotoxin"
    YIELD = "yield"


# The unit each result is recorded in (UCUM).
ATTRIBUTE_UNIT = {
    Attribute.AVERAGE_DAR: "1",
    Attribute.FREE_DRUG_LINKER: "%",
    Attribute.MONOMER: "%",
    Attribute.HMW: "%",
    Attribute.CONCENTRATION: "mg/mL",
    Attribute.ENDOTOXIN: "[EU]/mL",
    Attribute.YIELD: "%",
}
RECORDED = tuple(attribute for attribute in Attribute if attribute is not Attribute.YIELD)


@dataclass(frozen=True)
class Lots:
    antibody: str
    reducing_agent: str
    reducing_agent_lot: str
    drug_linker: str
    drug_linker_lot: str
    co_solvent: str  # "DMSO" or "DMA"
    quench_agent: str
    quench_lot: str


@dataclass(frozen=True)
class Limits:
    low: Decimal | None
    high: Decimal | None
    unit: str

    def holds(self, value: Decimal) -> bool:
        return (self.low is None or value >= self.low) and (
            self.high is None or value <= self.high
        )

    def __str__(self) -> str:
        low = "-" if self.low is None else str(self.low)
        high = "-" if self.high is None else str(self.high)
        return f"[{low}, {high}] {self.unit}"


@dataclass(frozen=True)
class Charge:
    kind: ChargeKind
    computed: Figure
    actual: Amount
    deviation_percent: Decimal
    within_tolerance: bool
    lot_id: str
    recorded_by: str
    record_time: datetime


@dataclass(frozen=True)
class PhaseParameter:
    name: str
    value: Amount
    limits: Limits | None
    within_limits: bool


@dataclass(frozen=True)
class PhaseRecord:
    phase: Phase
    start_time: datetime
    started_by: str
    end_time: datetime | None = None
    ended_by: str = ""
    parameters: tuple[PhaseParameter, ...] = ()


@dataclass(frozen=True)
class ResultValue:
    attribute: Attribute
    value: Amount
    within_range: bool


@dataclass(frozen=True)
class Results:
    dar_distribution: tuple[Decimal, ...]
    values: tuple[ResultValue, ...]
    protein_out: Amount
    recorded_by: str
    record_time: datetime


@dataclass(frozen=True)
class StepLimits:
    """The parameter limits of the master record's step a phase follows, by parameter name."""

    step_id: str
    limits: dict[str, Limits]


@dataclass(frozen=True)
class Run:
    run_id: str
    home_site: str
    batch_id: str
    product: str
    phase: Phase
    inputs: stoichiometry.Inputs
    lots: Lots
    calculations: tuple[Figure, ...]
    phase_steps: dict[Phase, StepLimits]
    acceptance: dict[Attribute, Limits]
    charge_tolerance: Decimal
    dar_sum_tolerance: Decimal
    dar_mean_tolerance: Decimal
    created_by: str
    create_time: datetime
    update_time: datetime
    charges: tuple[Charge, ...] = ()
    phases: tuple[PhaseRecord, ...] = ()
    results: Results | None = None
    revision: int = 1

    @property
    def name(self) -> str:
        return run_name(self.run_id)

    @property
    def etag(self) -> str:
        return str(self.revision)

    def figure(self, name: str) -> Figure:
        return next(figure for figure in self.calculations if figure.name == name)

    def charge(self, kind: ChargeKind) -> Charge | None:
        return next((charge for charge in self.charges if charge.kind is kind), None)

    def current(self) -> PhaseRecord | None:
        return self.phases[-1] if self.phases else None


@dataclass(frozen=True)
class Issue:
    """Something outside its limits: an exception on the batch (by an event)."""

    kind: str  # "charge", "parameter", "result"
    description: str
    charge: Charge | None = None
    phase: Phase | None = None
    parameter: PhaseParameter | None = None
    result: ResultValue | None = None


@dataclass(frozen=True)
class Decided:
    run: Run
    issues: tuple[Issue, ...] = field(default=())


# --- creation ------------------------------------------------------------------------------

def decimal_of(field_name: str, text: str, violations: Violations, *,
               positive: bool = False) -> Decimal | None:
    """``text`` as a Decimal within the bounds every decimal has (docs/bounds.md; empty:
    None); a bad one is added to ``violations``."""
    if text == "":
        return None
    value = bounds.decimal(field_name, text, violations)
    if value is not None and positive and value <= 0:
        violations.add(field_name, "must be greater than zero")
        return None
    return value


def tolerance(field_name: str, text: str, default: Decimal, violations: Violations) -> Decimal:
    value = decimal_of(field_name, text, violations, positive=True)
    return default if value is None else value


def step_limits(step_id: str, parameters: dict[str, tuple[str, str, str]],
                violations: Violations, path: str) -> StepLimits:
    """A master-record step's limits from (unit, low, high) text per parameter name."""
    limits = {}
    for name, (unit, low, high) in parameters.items():
        limits[name] = Limits(
            decimal_of(f"{path}.{name}.low_limit", low, violations),
            decimal_of(f"{path}.{name}.high_limit", high, violations), unit,
        )
    return StepLimits(step_id, limits)


def create_run(
    *, run_id: str, site: str, batch_id: str, product: str, inputs: stoichiometry.Inputs,
    lots: Lots, phase_steps: dict[Phase, StepLimits], acceptance: dict[Attribute, Limits],
    tolerances: tuple[Decimal, Decimal, Decimal], created_by: str, now: datetime,
) -> Run:
    """A new run in SETUP, its charges computed (InvalidArgument naming each bad input)."""
    calculations = stoichiometry.compute(inputs)
    charge, dar_sum, dar_mean = tolerances
    return Run(
        run_id=run_id, home_site=site, batch_id=batch_id, product=product, phase=Phase.SETUP,
        inputs=inputs, lots=lots, calculations=calculations, phase_steps=phase_steps,
        acceptance=acceptance, charge_tolerance=charge, dar_sum_tolerance=dar_sum,
        dar_mean_tolerance=dar_mean, created_by=created_by, create_time=now, update_time=now,
    )


def check_etag(run: Run, etag: str) -> None:
    etags.check_etag(run.name, run.etag, etag)


def _changed(run: Run, now: datetime, **changes: object) -> Run:
    return replace(run, update_time=now, revision=run.revision + 1, **changes)  # type: ignore[arg-type]


def _require_running(run: Run, phase: Phase, action: str) -> None:
    current = run.current()
    if current is None or current.phase is not phase or current.end_time is not None:
        raise FailedPrecondition(
            "PHASE_NOT_RUNNING",
            f"{action} needs the {phase.value} phase running; the run is at "
            f"{_where(run)}", phase=phase.value, current=run.phase.value,
        )


def _where(run: Run) -> str:
    current = run.current()
    if current is None:
        return "setup (no phase started)"
    state = "ended" if current.end_time is not None else "running"
    return f"{current.phase.value} ({state})"


# --- charges -------------------------------------------------------------------------------

def record_charge(
    run: Run, *, kind: ChargeKind, actual: Amount, lot_id: str, recorded_by: str,
    now: datetime,
) -> Decided:
    """Records the actual volume of a charge, in its phase, once; outside tolerance → issue."""
    _require_running(run, CHARGE_PHASE[kind], f"the {kind.value.replace('_', ' ')} charge")
    if run.charge(kind) is not None:
        raise FailedPrecondition(
            "CHARGE_ALREADY_RECORDED", f"the {kind.value} charge of {run.name} is recorded",
            kind=kind.value,
        )
    computed = run.figure(CHARGE_FIGURE[kind])
    violations = Violations()
    value = decimal_of("actual.value", actual.value, violations, positive=True)
    if value is not None and not units.converts(actual.unit, computed.unit):
        violations.add("actual.unit", f"{actual.unit!r} is not a volume (e.g. mL)")
    violations.raise_if_any()
    assert value is not None
    recorded = units.in_unit(units.quantity(value, actual.unit), computed.unit)
    deviation = ((recorded - computed.exact) / computed.exact * 100).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    within = stoichiometry.within_tolerance(computed, actual, run.charge_tolerance)
    charge = Charge(kind, computed, actual, deviation, within, lot_id, recorded_by, now)
    after = _changed(run, now, charges=(*run.charges, charge))
    if within:
        return Decided(after)
    issue = Issue(
        "charge",
        f"{kind.value.replace('_', ' ')} charge {actual.value} {actual.unit} is {deviation} % "
        f"from the computed {computed.value} {computed.unit} (tolerance "
        f"±{run.charge_tolerance} %)",
        charge=charge,
    )
    return Decided(after, (issue,))


# --- phases --------------------------------------------------------------------------------

def _next_phase(run: Run) -> Phase:
    return ORDER[ORDER.index(run.phase) + 1]


def start_phase(run: Run, *, phase: Phase, started_by: str, now: datetime) -> Decided:
    """Starts ``phase``: only the next one, and only once the current one has ended."""
    current = run.current()
    if run.phase is Phase.COMPLETE or phase not in RUNNING:
        raise FailedPrecondition(
            "PHASE_OUT_OF_ORDER",
            f"{phase.value} cannot be started: the run is at {_where(run)}"
            + ("" if run.phase is Phase.COMPLETE else
               "; the run completes when purification ends"),
            phase=phase.value, current=run.phase.value,
        )
    allowed = _next_phase(run)
    if current is not None and current.end_time is None:
        raise FailedPrecondition(
            "PHASE_OUT_OF_ORDER",
            f"{phase.value} cannot start while {current.phase.value} runs: end it first",
            phase=phase.value, current=run.phase.value, allowed=current.phase.value,
        )
    if phase is not allowed:
        raise FailedPrecondition(
            "PHASE_OUT_OF_ORDER",
            f"{phase.value} cannot start after {run.phase.value}: the next phase is "
            f"{allowed.value}", phase=phase.value, current=run.phase.value, allowed=allowed.value,
        )
    record = PhaseRecord(phase, now, started_by)
    return Decided(_changed(run, now, phase=phase, phases=(*run.phases, record)))


def end_phase(
    run: Run, *, phase: Phase, parameters: dict[str, Amount], ended_by: str, now: datetime,
) -> Decided:
    """Ends the running ``phase`` with its parameters, each judged against its step's limits.

    Every parameter of the phase's step is required, in its own unit (never converted); a
    step parameter "duration" not given is the phase's own duration, in the step's unit.
    """
    _require_running(run, phase, f"ending {phase.value}")
    for kind, charged_in in CHARGE_PHASE.items():
        if charged_in is phase and run.charge(kind) is None:
            raise FailedPrecondition(
                "CHARGE_MISSING", f"{phase.value} cannot end before its "
                f"{kind.value.replace('_', ' ')} charge is recorded", kind=kind.value,
            )
    current = run.current()
    assert current is not None
    step = run.phase_steps.get(phase)
    limits = {} if step is None else step.limits
    given = dict(parameters)
    if "duration" in limits and "duration" not in given:
        elapsed = Decimal((now - current.start_time).total_seconds())
        in_unit = units.in_unit(units.quantity(elapsed, "s"), limits["duration"].unit)
        given["duration"] = Amount(str(in_unit.quantize(Decimal("0.1"))), limits["duration"].unit)
    violations = Violations()
    if len(given) > MAX_PARAMETERS:
        violations.add("parameters", f"at most {MAX_PARAMETERS}")
    for name in limits:
        if name not in given:
            violations.add(f"parameters[{name}]", f"is required by step {step.step_id}"  # type: ignore[union-attr]
                           )
    judged: list[PhaseParameter] = []
    for name, amount in sorted(given.items()):
        path = f"parameters[{name}]"
        value = decimal_of(f"{path}.value", amount.value, violations)
        if value is None:
            if amount.value == "":
                violations.add(f"{path}.value", "is required")
            continue
        limit = limits.get(name)
        if limit is not None and amount.unit != limit.unit:
            violations.add(f"{path}.unit", f"must be {limit.unit!r}, the step's unit")
            continue
        if limit is None and not units.is_ucum(amount.unit):
            violations.add(f"{path}.unit", f"{amount.unit!r} is not a UCUM unit")
            continue
        judged.append(PhaseParameter(
            name, amount, limit, True if limit is None else limit.holds(value)
        ))
    violations.raise_if_any()
    ended = replace(current, end_time=now, ended_by=ended_by, parameters=tuple(judged))
    after_phase = Phase.COMPLETE if phase is Phase.PURIFICATION else phase
    after = _changed(run, now, phase=after_phase, phases=(*run.phases[:-1], ended))
    issues = tuple(
        Issue(
            "parameter",
            f"{phase.value} {parameter.name} {parameter.value.value} {parameter.value.unit} "
            f"is outside its limits {parameter.limits} (step {step.step_id})",  # type: ignore[union-attr]
            phase=phase, parameter=parameter,
        )
        for parameter in judged if not parameter.within_limits
    )
    return Decided(after, issues)


# --- results -------------------------------------------------------------------------------

def record_results(
    run: Run, *, dar_distribution: list[str], values: dict[Attribute, Amount],
    protein_out: Amount, recorded_by: str, now: datetime,
) -> Decided:
    """The in-process results, once, from purification on; each judged against its range.

    The DAR distribution must sum to 1 and its weighted mean equal the average DAR, each
    within the run's tolerance (InvalidArgument naming both figures otherwise).
    """
    if run.phase not in (Phase.PURIFICATION, Phase.COMPLETE):
        raise FailedPrecondition(
            "PHASE_OUT_OF_ORDER", f"results are recorded from purification on; the run is at "
            f"{_where(run)}", current=run.phase.value,
        )
    if run.results is not None:
        raise FailedPrecondition("RESULTS_ALREADY_RECORDED", f"{run.name} has its results")
    violations = Violations()
    fractions = _distribution(dar_distribution, violations)
    numbers: dict[Attribute, Decimal] = {}
    for attribute in RECORDED:
        path = f"values[{attribute.value}]"
        amount = values.get(attribute)
        if amount is None:
            violations.add(path, "is required")
            continue
        value = decimal_of(f"{path}.value", amount.value, violations)
        if value is None:
            if amount.value == "":
                violations.add(f"{path}.value", "is required")
            continue
        if value < 0:
            violations.add(f"{path}.value", "must not be negative")
        if amount.unit != ATTRIBUTE_UNIT[attribute]:
            violations.add(f"{path}.unit", f"must be {ATTRIBUTE_UNIT[attribute]!r}")
        numbers[attribute] = value
    mass_out = _protein_out(protein_out, violations)
    violations.raise_if_any()
    average = numbers[Attribute.AVERAGE_DAR]
    _check_distribution(run, fractions, average)
    mass_in = units.in_unit(
        units.quantity(Decimal(run.inputs.antibody_concentration.value),
                       run.inputs.antibody_concentration.unit)
        * units.quantity(Decimal(run.inputs.antibody_volume.value),
                         run.inputs.antibody_volume.unit), "mg",
    )
    numbers[Attribute.YIELD] = (mass_out / mass_in * 100).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )
    judged = []
    for judged_attribute in Attribute:
        value = numbers[judged_attribute]
        given = values.get(judged_attribute)
        shown = str(value) if given is None else given.value
        limits = run.acceptance.get(judged_attribute)
        judged.append(ResultValue(
            judged_attribute, Amount(shown, ATTRIBUTE_UNIT[judged_attribute]),
            True if limits is None else limits.holds(value),
        ))
    results = Results(tuple(fractions), tuple(judged), protein_out, recorded_by, now)
    after = _changed(run, now, results=results)
    issues = tuple(
        Issue(
            "result",
            f"{result.attribute.value.replace('_', ' ')} {result.value.value} "
            f"{result.value.unit} is outside its acceptance range "
            f"{run.acceptance[result.attribute]}",
            result=result,
        )
        for result in judged if not result.within_range
    )
    return Decided(after, issues)


def _distribution(texts: list[str], violations: Violations) -> list[Decimal]:
    if not texts:
        violations.add("dar_distribution", "is required (the fractions of D0 ... D8)")
        return []
    if len(texts) > MAX_DAR + 1:
        violations.add("dar_distribution", f"at most {MAX_DAR + 1} fractions (D0 ... D8)")
        return []
    fractions = []
    for index, text in enumerate(texts):
        value = decimal_of(f"dar_distribution[{index}]", text, violations)
        if value is None:
            if text == "":
                violations.add(f"dar_distribution[{index}]", "is required")
            continue
        if not 0 <= value <= 1:
            violations.add(f"dar_distribution[{index}]", "must be a fraction in [0, 1]")
        fractions.append(value)
    return fractions


def _check_distribution(run: Run, fractions: list[Decimal], average: Decimal) -> None:
    violations = Violations()
    total = sum(fractions, Decimal(0))
    if abs(total - 1) > run.dar_sum_tolerance:
        violations.add(
            "dar_distribution", f"the fractions sum to {total}, not 1 "
            f"(±{run.dar_sum_tolerance})",
        )
    else:
        mean = sum((index * value for index, value in enumerate(fractions)), Decimal(0))
        if abs(mean - average) > run.dar_mean_tolerance:
            violations.add(
                "dar_distribution", f"its weighted mean Σ i·Di is {mean}, which is not the "
                f"average DAR {average} (±{run.dar_mean_tolerance})",
            )
            violations.add(
                f"values[{Attribute.AVERAGE_DAR.value}].value",
                f"{average} disagrees with the distribution's weighted mean {mean}",
            )
    violations.raise_if_any()


def _protein_out(amount: Amount, violations: Violations) -> Decimal:
    value = decimal_of("protein_out.value", amount.value, violations, positive=True)
    if amount.value == "":
        violations.add("protein_out.value", "is required")
    if value is None:
        return Decimal(0)
    if not units.converts(amount.unit, "mg"):
        violations.add("protein_out.unit", f"{amount.unit!r} is not a mass (e.g. mg or g)")
        return Decimal(0)
    return units.in_unit(units.quantity(value, amount.unit), "mg")
