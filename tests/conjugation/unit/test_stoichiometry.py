"""The charges of a conjugation (services/conjugation/runs/stoichiometry.py) against figures
worked by hand, with unit conversion and half-up rounding; bad inputs named, field by field."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from services.common.domain.errors import FailedPrecondition, InvalidArgument
from services.conjugation.runs.stoichiometry import Amount, Inputs, compute, within_tolerance

# 10 g of antibody (10 mg/mL x 1 L) at 150,000 g/mol: 66.667 umol.
INPUTS = Inputs(
    antibody_concentration=Amount("10", "mg/mL"), antibody_volume=Amount("1000", "mL"),
    antibody_molecular_weight=Amount("150000", "g/mol"),
    reducer_stock=Amount("10", "mmol/L"), reducer_equivalents="2.2",
    drug_linker_molecular_weight=Amount("1316", "g/mol"),
    drug_linker_stock=Amount("10", "mmol/L"), drug_linker_equivalents="8",
    max_cosolvent_percent="10", quench_stock=Amount("100", "mmol/L"), quench_equivalents="2",
)


def figures(inputs: Inputs = INPUTS) -> dict[str, tuple[Decimal, str]]:
    return {figure.name: (figure.value, figure.unit) for figure in compute(inputs)}


def test_the_charges_match_the_figures_worked_by_hand() -> None:
    assert figures() == {
        "antibody": (Decimal("10000.000"), "mg"),
        "antibody moles": (Decimal("66.667"), "umol"),  # 10 g / 150,000 g/mol
        "reducer moles": (Decimal("146.667"), "umol"),  # x 2.2
        "reducer volume": (Decimal("14.667"), "mL"),  # 146.667 umol / 10 mmol/L
        "drug-linker moles": (Decimal("533.333"), "umol"),  # x 8
        "drug-linker mass": (Decimal("701.867"), "mg"),  # x 1316 g/mol
        "drug-linker volume": (Decimal("53.333"), "mL"),
        "co-solvent": (Decimal("4.99"), "%"),  # 53.333 / (1000 + 14.667 + 53.333)
        "quench moles": (Decimal("1066.667"), "umol"),  # 2 x drug-linker
        "quench volume": (Decimal("10.667"), "mL"),  # / 100 mmol/L
        "final volume": (Decimal("1078.667"), "mL"),
    }


def test_units_are_converted_not_assumed() -> None:
    # The same antibody given as 0.01 g/mL x 1 L and 150 kg/mol; the stock as 0.01 mol/L.
    same = replace(
        INPUTS, antibody_concentration=Amount("0.01", "g/mL"),
        antibody_volume=Amount("1", "L"), antibody_molecular_weight=Amount("150", "kg/mol"),
        reducer_stock=Amount("0.01", "mol/L"),
    )
    assert figures(same) == figures()


def test_each_figure_says_how_it_was_computed() -> None:
    volume = next(f for f in compute(INPUTS) if f.name == "reducer volume")
    assert volume.formula == "V_red = n_red / c_stock"
    assert volume.inputs == (("c_stock", "10 mmol/L"),)
    assert volume.exact == Decimal(44) / 3  # 14.666..., the unrounded figure charges meet


def test_rounding_is_half_up_at_the_end() -> None:
    # 1.0005 mL of reducer exactly: half-up gives 1.001 (banker's rounding would give 1.000).
    tiny = replace(
        INPUTS, antibody_concentration=Amount("1.0005", "mg/mL"),
        antibody_volume=Amount("1", "mL"), antibody_molecular_weight=Amount("1", "g/mol"),
        reducer_equivalents="1", reducer_stock=Amount("1", "mol/L"),
        drug_linker_stock=Amount("1000", "mol/L"), max_cosolvent_percent="100",
    )
    assert figures(tiny)["reducer volume"] == (Decimal("1.001"), "mL")


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"reducer_equivalents": "0"}, ["reducer_equivalents"]),
        ({"antibody_volume": Amount("-5", "mL")}, ["antibody_volume.value"]),
        ({"antibody_concentration": Amount("NaN", "mg/mL")}, ["antibody_concentration.value"]),
        ({"drug_linker_equivalents": "Infinity"}, ["drug_linker_equivalents"]),
        ({"quench_equivalents": ""}, ["quench_equivalents"]),
        ({"antibody_volume": Amount("1000", "")}, ["antibody_volume.unit"]),
        ({"antibody_volume": Amount("1000", "mg")}, ["antibody_volume.unit"]),  # not a volume
        ({"reducer_stock": Amount("10", "NULL")}, ["reducer_stock.unit"]),
        (
            {"antibody_volume": Amount("0", "g"), "reducer_equivalents": "-1"},
            ["antibody_volume.value", "antibody_volume.unit", "reducer_equivalents"],
        ),
    ],
)
def test_a_bad_input_is_refused_naming_each_field(
    changes: dict[str, object], fields: list[str]
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        compute(replace(INPUTS, **changes))  # type: ignore[arg-type]
    assert sorted(v.field for v in refused.value.violations) == sorted(fields)


def test_a_charge_above_the_co_solvent_maximum_is_refused() -> None:
    with pytest.raises(FailedPrecondition) as refused:
        compute(replace(INPUTS, max_cosolvent_percent="4.5"))
    assert refused.value.reason == "COSOLVENT_ABOVE_MAXIMUM"
    assert refused.value.metadata["cosolventPercent"] == "4.99"


def test_a_recorded_charge_is_checked_against_its_figure_within_the_tolerance() -> None:
    volume = next(f for f in compute(INPUTS) if f.name == "reducer volume")
    assert within_tolerance(volume, Amount("14.9", "mL"), Decimal(2))  # +1.6 %
    assert within_tolerance(volume, Amount("0.0144", "L"), Decimal(2))  # -1.8 %, in litres
    assert not within_tolerance(volume, Amount("15.0", "mL"), Decimal(2))  # +2.3 %
