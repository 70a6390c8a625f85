"""The charges of a conjugation, computed from its inputs (pure; docs/conjugation.md, 2).

Every figure is ``Decimal`` arithmetic on pint quantities (ucumvert's UCUM registry in Decimal
mode: no conversion factor is written here), rounded half-up only when it is reported, and
returned with how it was computed: its inputs, its formula and its result with a unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from services.common.domain import bounds, units
from services.common.domain.errors import FailedPrecondition, Violations


@dataclass(frozen=True)
class Amount:
    """A value with its UCUM unit, as a request gives it."""

    value: str
    unit: str


@dataclass(frozen=True)
class Inputs:
    antibody_concentration: Amount  # e.g. mg/mL
    antibody_volume: Amount  # e.g. mL
    antibody_molecular_weight: Amount  # e.g. g/mol
    reducer_stock: Amount  # e.g. mmol/L (TCEP)
    reducer_equivalents: str  # mol per mol of antibody
    drug_linker_molecular_weight: Amount
    drug_linker_stock: Amount  # in its co-solvent (DMSO or DMA)
    drug_linker_equivalents: str  # mol per mol of antibody
    max_cosolvent_percent: str  # % v/v at the drug-linker charge
    quench_stock: Amount  # e.g. N-acetyl-cysteine, mmol/L
    quench_equivalents: str  # mol per mol of drug-linker


@dataclass(frozen=True)
class Figure:
    """One computed figure: what it is, how, from what, and its reported value."""

    name: str
    formula: str
    inputs: tuple[tuple[str, str], ...]  # (name, value with unit) as used
    value: Decimal  # rounded half-up to ``decimals``
    unit: str
    exact: Decimal  # unrounded: what a recorded charge is compared with


# What each input must measure: any unit that converts to this one is accepted.
DIMENSIONS = {
    "antibody_concentration": "mg/mL", "antibody_volume": "mL",
    "antibody_molecular_weight": "g/mol", "reducer_stock": "mmol/L",
    "drug_linker_molecular_weight": "g/mol", "drug_linker_stock": "mmol/L",
    "quench_stock": "mmol/L",
}
EQUIVALENTS = (
    "reducer_equivalents", "drug_linker_equivalents", "quench_equivalents",
    "max_cosolvent_percent",
)
DECIMALS = {"umol": 3, "mL": 3, "mg": 3, "%": 2}


def _positive(field: str, text: str, violations: Violations) -> Decimal | None:
    if not text:
        violations.add(field, "is required")
        return None
    number = bounds.decimal(field, text, violations)
    if number is None:
        return None
    if number <= 0:
        violations.add(field, "must be greater than zero")
        return None
    return number


def _quantity(field: str, amount: Amount, violations: Violations) -> object | None:
    number = _positive(f"{field}.value", amount.value, violations)
    expected = DIMENSIONS[field]
    if not amount.unit:
        violations.add(f"{field}.unit", f"is required (a UCUM unit such as {expected})")
        return None
    if not units.is_ucum(amount.unit):
        violations.add(f"{field}.unit", f"{amount.unit!r} is not a UCUM unit")
        return None
    if not units.converts(amount.unit, expected):
        violations.add(
            f"{field}.unit", f"{amount.unit!r} does not measure what {expected} does"
        )
        return None
    return None if number is None else units.quantity(number, amount.unit)


def _figure(
    name: str, formula: str, inputs: dict[str, str], value: object, unit: str
) -> Figure:
    exact = units.in_unit(value, unit)  # type: ignore[arg-type]
    step = Decimal(1).scaleb(-DECIMALS[unit])
    return Figure(
        name=name, formula=formula, inputs=tuple(inputs.items()),
        value=exact.quantize(step, rounding=ROUND_HALF_UP), unit=unit, exact=exact,
    )


def compute(inputs: Inputs) -> tuple[Figure, ...]:
    """Every charge of the run; InvalidArgument naming each bad input, before anything."""
    violations = Violations()
    q = {
        field: _quantity(field, getattr(inputs, field), violations) for field in DIMENSIONS
    }
    eq = {field: _positive(field, getattr(inputs, field), violations) for field in EQUIVALENTS}
    violations.raise_if_any()

    def shown(field: str) -> str:
        amount: Amount = getattr(inputs, field)
        return f"{amount.value} {amount.unit}"

    mass = q["antibody_concentration"] * q["antibody_volume"]  # type: ignore[operator]
    n_mab = mass / q["antibody_molecular_weight"]
    n_red = eq["reducer_equivalents"] * n_mab  # type: ignore[operator]
    v_red = n_red / q["reducer_stock"]
    n_dl = eq["drug_linker_equivalents"] * n_mab  # type: ignore[operator]
    v_dl = n_dl / q["drug_linker_stock"]
    n_q = eq["quench_equivalents"] * n_dl  # type: ignore[operator]
    v_q = n_q / q["quench_stock"]
    v_mab = q["antibody_volume"]
    v_conjugation = v_mab + v_red + v_dl  # type: ignore[operator]
    v_final = v_conjugation + v_q
    cosolvent = v_dl / v_conjugation  # reported in % (UCUM "%" is 1/100)

    figures = (
        _figure("antibody", "m = c * V", {
            "c": shown("antibody_concentration"), "V": shown("antibody_volume"),
        }, mass, "mg"),
        _figure("antibody moles", "n = c * V / MW", {
            "c": shown("antibody_concentration"), "V": shown("antibody_volume"),
            "MW": shown("antibody_molecular_weight"),
        }, n_mab, "umol"),
        _figure("reducer moles", "n_red = eq * n", {
            "eq": inputs.reducer_equivalents,
        }, n_red, "umol"),
        _figure("reducer volume", "V_red = n_red / c_stock", {
            "c_stock": shown("reducer_stock"),
        }, v_red, "mL"),
        _figure("drug-linker moles", "n_DL = eq * n", {
            "eq": inputs.drug_linker_equivalents,
        }, n_dl, "umol"),
        _figure("drug-linker mass", "m_DL = n_DL * MW_DL", {
            "MW_DL": shown("drug_linker_molecular_weight"),
        }, n_dl * q["drug_linker_molecular_weight"], "mg"),
        _figure("drug-linker volume", "V_DL = n_DL / c_stock", {
            "c_stock": shown("drug_linker_stock"),
        }, v_dl, "mL"),
        _figure("co-solvent", "V_DL / (V + V_red + V_DL)", {}, cosolvent, "%"),
        _figure("quench moles", "n_q = eq * n_DL", {
            "eq": inputs.quench_equivalents,
        }, n_q, "umol"),
        _figure("quench volume", "V_q = n_q / c_stock", {
            "c_stock": shown("quench_stock"),
        }, v_q, "mL"),
        _figure("final volume", "V + V_red + V_DL + V_q", {}, v_final, "mL"),
    )
    limit = eq["max_cosolvent_percent"]
    assert limit is not None
    if figures[7].exact > limit:
        raise FailedPrecondition(
            "COSOLVENT_ABOVE_MAXIMUM",
            f"the drug-linker charge makes {figures[7].value} % v/v co-solvent; at most "
            f"{inputs.max_cosolvent_percent} % is allowed (a more concentrated stock lowers it)",
            cosolventPercent=str(figures[7].value), maxPercent=inputs.max_cosolvent_percent,
        )
    return figures


def within_tolerance(figure: Figure, actual: Amount, tolerance_percent: Decimal) -> bool:
    """Whether a recorded charge is within ``tolerance_percent`` of the computed figure."""
    recorded = units.in_unit(units.quantity(Decimal(actual.value), actual.unit), figure.unit)
    return abs(recorded - figure.exact) <= figure.exact * tolerance_percent / 100
