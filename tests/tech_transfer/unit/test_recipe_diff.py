"""Differences between two recipes, against hand-made version pairs: steps moved between
operations and reordered, unit procedures added, limits tightened, widened and shifted, units
changed, renames, removals; and the conjugation recipe from its protobuf, diffed against a
changed copy."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from services.common.domain.errors import InvalidArgument
from services.devstack.recipes import conjugation_recipe
from services.tech_transfer.packages.recipe_diff import (
    Change,
    ChangeKind,
    Operation,
    Parameter,
    Recipe,
    Step,
    UnitProcedure,
    diff,
)
from services.tech_transfer.packages.recipe_translate import recipe_from_proto

D = Decimal
TEMPERATURE = Parameter("temperature", "Cel", D("25"), D("20"), D("30"), critical=True)
TCEP = Parameter("TCEP", "mol/mol", D("2.5"), D("2.0"), D("3.0"))
S1 = Step("S1", "Add TCEP", "PROCESS_PARAMETER", "Add 2.5 molar eq. TCEP.", True,
          (TEMPERATURE, TCEP))
S2 = Step("S2", "Hold", "INSTRUCTION", "Hold 90 min.")
S3 = Step("S3", "Add drug-linker", "MATERIAL_ADDITION", "Add drug-linker in DMSO.")
S4 = Step("S4", "Mix", "INSTRUCTION", "Mix 60 min.")
S5 = Step("S5", "Quench", "MATERIAL_ADDITION", "Quench with N-acetyl-cysteine.")
OP1 = Operation("OP1", "Partial reduction", (S1, S2))
OP2 = Operation("OP2", "Conjugation", (S3, S4))
OP3 = Operation("OP3", "Quench", (S5,))
UP1 = UnitProcedure("UP1", "Conjugation", (OP1, OP2, OP3))
BASE = Recipe((UP1,))


def with_operations(*operations: Operation) -> Recipe:
    return Recipe((replace(UP1, operations=operations),))


def with_temperature(**changes: object) -> Recipe:
    step = replace(S1, parameters=(replace(TEMPERATURE, **changes), TCEP))
    return with_operations(replace(OP1, steps=(step, S2)), OP2, OP3)


TEMPERATURE_PATH = "UP1/OP1/S1/temperature"


def test_identical_recipes_have_no_difference() -> None:
    assert diff(BASE, BASE) == ()
    # Equal decimals written differently are the same limit.
    assert diff(BASE, with_temperature(high=D("30.0"))) == ()


def test_a_step_moved_to_another_operation_is_moved_not_removed_and_added() -> None:
    after = with_operations(OP1, replace(OP2, steps=(S3,)), replace(OP3, steps=(S4, S5)))
    assert diff(BASE, after) == (
        Change(ChangeKind.STEP_MOVED, "UP1/OP3/S4", "UP1/OP2", "UP1/OP3",
               "moved to another operation"),
    )


def test_a_unit_procedure_added_brings_its_operations_steps_and_parameters() -> None:
    pressure = Parameter("transmembrane pressure", "bar", D("1.0"), D("0.5"), D("1.5"))
    tff = Step("S6", "Diafilter", "PROCESS_PARAMETER", "Diafilter 10 volumes.",
               parameters=(pressure,))
    # Its operation's id is OP1 like UP1's first: operations are told apart by their place.
    purification = UnitProcedure("UP2", "Purification", (Operation("OP1", "TFF", (tff,)),))
    assert diff(BASE, Recipe((UP1, purification))) == (
        Change(ChangeKind.UNIT_PROCEDURE_ADDED, "UP2", after="Purification"),
        Change(ChangeKind.OPERATION_ADDED, "UP2/OP1", after="TFF"),
        Change(ChangeKind.STEP_ADDED, "UP2/OP1/S6", after="Diafilter",
               detail="PROCESS_PARAMETER"),
        Change(ChangeKind.PARAMETER_ADDED, "UP2/OP1/S6/transmembrane pressure",
               after="target 1.0 bar, limits [0.5, 1.5]"),
    )


def test_a_lower_high_limit_is_tightened() -> None:
    assert diff(BASE, with_temperature(high=D("28"))) == (
        Change(ChangeKind.PARAMETER_LIMIT_CHANGED, TEMPERATURE_PATH,
               "[20, 30] Cel", "[20, 28] Cel", "limits tightened: high 30 → 28"),
    )


def test_a_lower_low_limit_is_widened() -> None:
    assert diff(BASE, with_temperature(low=D("18"))) == (
        Change(ChangeKind.PARAMETER_LIMIT_CHANGED, TEMPERATURE_PATH,
               "[20, 30] Cel", "[18, 30] Cel", "limits widened: low 20 → 18"),
    )


def test_limits_both_in_or_both_out_and_a_range_that_moves() -> None:
    (narrower,) = diff(BASE, with_temperature(low=D("22"), high=D("28")))
    assert narrower.detail == "limits tightened: low 20 → 22, high 30 → 28"
    (dropped,) = diff(BASE, with_temperature(high=None))
    assert (dropped.after, dropped.detail) == ("[20, -] Cel", "limits widened: high 30 → none")
    (moved,) = diff(BASE, with_temperature(low=D("22"), high=D("32")))
    assert moved.detail == "limits shifted: low 20 → 22 (tightened), high 30 → 32 (widened)"


def test_alert_limits_are_compared_like_the_limits() -> None:
    before = with_temperature(alert_low=D("21"), alert_high=D("29"))
    assert diff(before, with_temperature(alert_low=D("22"), alert_high=D("29"))) == (
        Change(ChangeKind.PARAMETER_LIMIT_CHANGED, TEMPERATURE_PATH,
               "[21, 29] Cel", "[22, 29] Cel", "alert limits tightened: alert_low 21 → 22"),
    )
    (added,) = diff(BASE, before)
    assert added.detail == "alert limits tightened: alert_low none → 21, alert_high none → 29"


def test_a_unit_change_is_reported_and_limits_across_it_are_only_changed() -> None:
    kelvin = with_temperature(
        unit="K", target=D("298.15"), low=D("293.15"), high=D("303.15")
    )
    assert diff(BASE, kelvin) == (
        Change(ChangeKind.PARAMETER_UNIT_CHANGED, TEMPERATURE_PATH, "Cel", "K"),
        Change(ChangeKind.PARAMETER_TARGET_CHANGED, TEMPERATURE_PATH, "25", "298.15",
               "target"),
        Change(ChangeKind.PARAMETER_LIMIT_CHANGED, TEMPERATURE_PATH,
               "[20, 30] Cel", "[293.15, 303.15] K",
               "limits changed (unit Cel → K, not converted): low 20 → 293.15, "
               "high 30 → 303.15"),
    )
    # The unit alone: one change, the limits as they were.
    assert diff(BASE, with_temperature(unit="K")) == (
        Change(ChangeKind.PARAMETER_UNIT_CHANGED, TEMPERATURE_PATH, "Cel", "K"),
    )


def test_target_and_criticality() -> None:
    assert diff(BASE, with_temperature(target=D("26"), critical=False)) == (
        Change(ChangeKind.PARAMETER_TARGET_CHANGED, TEMPERATURE_PATH, "25", "26", "target"),
        Change(ChangeKind.PARAMETER_CRITICALITY_CHANGED, TEMPERATURE_PATH,
               "critical", "not critical", "no longer critical"),
    )


def test_renames_keep_the_id() -> None:
    after = Recipe((replace(
        UP1, name="Conjugation reactor R-201",
        operations=(replace(OP1, steps=(replace(S1, name="Add TCEP solution"), S2)),
                    replace(OP2, name="Conjugation and hold"), OP3),
    ),))
    assert diff(BASE, after) == (
        Change(ChangeKind.UNIT_PROCEDURE_RENAMED, "UP1", "Conjugation",
               "Conjugation reactor R-201"),
        Change(ChangeKind.STEP_RENAMED, "UP1/OP1/S1", "Add TCEP", "Add TCEP solution"),
        Change(ChangeKind.OPERATION_RENAMED, "UP1/OP2", "Conjugation", "Conjugation and hold"),
    )


def test_a_reorder_reports_only_what_left_the_order() -> None:
    # OP3 taken to the front: one move, not OP1 and OP2 shifted down.
    after = with_operations(OP3, OP1, replace(OP2, steps=(S4, S3)))
    assert diff(BASE, after) == (
        Change(ChangeKind.OPERATION_MOVED, "UP1/OP3", "3", "1", "reordered in UP1"),
        Change(ChangeKind.STEP_MOVED, "UP1/OP2/S4", "2", "1", "reordered in UP1/OP2"),
    )
    second = UnitProcedure("UP2", "Purification", (Operation("OP9", "TFF", (S5,)),))
    without_s5 = replace(UP1, operations=(OP1, OP2))
    assert diff(Recipe((without_s5, second)), Recipe((second, without_s5))) == (
        Change(ChangeKind.UNIT_PROCEDURE_MOVED, "UP2", "2", "1", "reordered in the recipe"),
    )


def test_an_operation_moved_to_another_unit_procedure() -> None:
    hold = UnitProcedure("UP2", "Hold tank", ())
    after = Recipe((replace(UP1, operations=(OP1, OP2)), replace(hold, operations=(OP3,))))
    assert diff(Recipe((UP1, hold)), after) == (
        Change(ChangeKind.OPERATION_MOVED, "UP2/OP3", "UP1", "UP2",
               "moved to another unit procedure"),
    )


def test_step_fields_parameters_added_and_removals_last() -> None:
    ph = Parameter("pH", "[pH]", D("7.0"), D("6.8"), D("7.2"))
    s1 = replace(S1, requires_verification=False, instruction="Add 2.4 molar eq. TCEP.",
                 parameters=(TEMPERATURE, ph))
    after = with_operations(replace(OP1, steps=(s1, S2)), OP2)
    assert diff(BASE, after) == (
        Change(ChangeKind.STEP_CHANGED, "UP1/OP1/S1", "Add 2.5 molar eq. TCEP.",
               "Add 2.4 molar eq. TCEP.", "instruction"),
        Change(ChangeKind.STEP_CHANGED, "UP1/OP1/S1", "true", "false",
               "requires_verification"),
        Change(ChangeKind.PARAMETER_ADDED, "UP1/OP1/S1/pH",
               after="target 7.0 [pH], limits [6.8, 7.2]"),
        Change(ChangeKind.PARAMETER_REMOVED, "UP1/OP1/S1/TCEP",
               before="target 2.5 mol/mol, limits [2.0, 3.0]"),
        Change(ChangeKind.OPERATION_REMOVED, "UP1/OP3", before="Quench"),
        Change(ChangeKind.STEP_REMOVED, "UP1/OP3/S5", before="Quench",
               detail="MATERIAL_ADDITION"),
    )


def test_ids_that_do_not_identify_are_refused() -> None:
    twice = with_operations(replace(OP1, steps=(S1, replace(S2, id="S1"))), OP2, OP3)
    with pytest.raises(InvalidArgument) as refused:
        diff(BASE, twice)
    assert [v.field for v in refused.value.violations] == [
        "after.unit_procedures[0].operations[0].steps[1].id"
    ]
    with pytest.raises(InvalidArgument) as refused:
        diff(with_operations(OP1, OP1), BASE)
    assert refused.value.violations[0].field == "before.unit_procedures[0].operations[1].id"


def test_the_conjugation_recipe_from_protobuf() -> None:
    recipe = recipe_from_proto(conjugation_recipe())
    assert recipe == Recipe((UnitProcedure("UP1", "Conjugation", (
        Operation("OP1", "Partial reduction", (Step(
            "S1", "Add TCEP", "PROCESS_PARAMETER", "Add 2.5 molar eq. TCEP; hold 90 min.",
            requires_verification=True, parameters=(
                Parameter("temperature", "Cel", D("25"), D("20"), D("30"), critical=True),
                Parameter("TCEP", "mol/mol", D("2.5"), D("2.0"), D("3.0")),
            ),
        ),)),
        Operation("OP2", "Conjugation", (Step(
            "S2", "Add drug-linker", "MATERIAL_ADDITION",
            "Add maleimide drug-linker in DMSO (≤ 10 % v/v).",
        ),)),
    )),))


def test_the_conjugation_recipe_against_a_changed_copy() -> None:
    before = conjugation_recipe()
    after = conjugation_recipe()
    up1 = after.unit_procedures[0]
    up1.operations[0].steps[0].parameters[0].high_limit = "28"
    up1.operations[0].steps[0].parameters[1].unit = "mmol/mol"
    # The drug-linker goes in with the reduction; a hold takes its place in OP2.
    up1.operations[0].steps.append(up1.operations[1].steps[0])
    del up1.operations[1].steps[:]
    up1.operations[1].steps.add(id="S3", name="Hold", instruction="Hold 60 min.")
    assert diff(recipe_from_proto(before), recipe_from_proto(after)) == (
        Change(ChangeKind.PARAMETER_LIMIT_CHANGED, TEMPERATURE_PATH,
               "[20, 30] Cel", "[20, 28] Cel", "limits tightened: high 30 → 28"),
        Change(ChangeKind.PARAMETER_UNIT_CHANGED, "UP1/OP1/S1/TCEP", "mol/mol", "mmol/mol"),
        Change(ChangeKind.STEP_MOVED, "UP1/OP1/S2", "UP1/OP2", "UP1/OP1",
               "moved to another operation"),
        Change(ChangeKind.STEP_ADDED, "UP1/OP2/S3", after="Hold", detail="UNSPECIFIED"),
    )


def test_a_limit_that_is_not_a_decimal_is_refused_by_name() -> None:
    record = conjugation_recipe()
    record.unit_procedures[0].operations[0].steps[0].parameters[0].low_limit = "twenty"
    with pytest.raises(InvalidArgument) as refused:
        recipe_from_proto(record)
    assert [v.field for v in refused.value.violations] == [
        "unit_procedures[0].operations[0].steps[0].parameters[0].low_limit"
    ]
