"""A conjugation run's decisions (services/conjugation/runs/domain.py), pure: the phase order,
charges in their phase and once, parameters against the step's limits, and the in-process
results with the DAR distribution checked against the average DAR."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.common.domain.errors import FailedPrecondition, InvalidArgument
from services.conjugation.runs import domain
from services.conjugation.runs.domain import (
    Attribute,
    ChargeKind,
    Limits,
    Lots,
    Phase,
    StepLimits,
)
from services.conjugation.runs.stoichiometry import Amount
from tests.conjugation.unit.test_stoichiometry import INPUTS

T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
LOTS = Lots("L-MAB-1", "TCEP", "L-TCEP-1", "DL", "L-DL-1", "DMSO", "NAC", "L-NAC-1")
REDUCTION_STEP = StepLimits("S1", {
    "temperature": Limits(Decimal("20"), Decimal("30"), "Cel"),
    "duration": Limits(Decimal("60"), Decimal("120"), "min"),
})


def new_run(**acceptance: Limits) -> domain.Run:
    return domain.create_run(
        run_id="SYR-CR-000001", site="syracuse", batch_id="SYR-B-2026-00001",
        product="TWX-101", inputs=INPUTS, lots=LOTS,
        phase_steps={Phase.REDUCTION: REDUCTION_STEP},
        acceptance={Attribute[name.upper()]: limits for name, limits in acceptance.items()},
        tolerances=(Decimal("2"), Decimal("0.005"), Decimal("0.05")), created_by="eng", now=T0,
    )


def started(run: domain.Run, phase: Phase, at: datetime = T0) -> domain.Run:
    return domain.start_phase(run, phase=phase, started_by="op", now=at).run


def charged(run: domain.Run, kind: ChargeKind, volume: str) -> domain.Decided:
    return domain.record_charge(run, kind=kind, actual=Amount(volume, "mL"), lot_id="L-1",
                                recorded_by="op", now=T0)


def reason(error: pytest.ExceptionInfo[FailedPrecondition]) -> str:
    return error.value.reason


def test_phases_start_only_in_order_and_after_the_current_one_ended() -> None:
    run = new_run()
    with pytest.raises(FailedPrecondition) as skipped:
        started(run, Phase.CONJUGATION)
    assert reason(skipped) == "PHASE_OUT_OF_ORDER" and "next phase is reduction" in str(
        skipped.value
    )
    run = started(run, Phase.REDUCTION)
    with pytest.raises(FailedPrecondition) as overlapping:
        started(run, Phase.CONJUGATION)
    assert "end it first" in str(overlapping.value)
    with pytest.raises(FailedPrecondition) as again:
        started(run, Phase.REDUCTION)
    assert reason(again) == "PHASE_OUT_OF_ORDER"
    assert run.phase is Phase.REDUCTION and run.revision == 2


def test_a_charge_goes_in_its_own_phase_once_and_is_judged_against_its_figure() -> None:
    run = new_run()
    with pytest.raises(FailedPrecondition) as too_early:
        charged(run, ChargeKind.REDUCING_AGENT, "14.667")
    assert reason(too_early) == "PHASE_NOT_RUNNING"
    run = started(run, Phase.REDUCTION)
    within = charged(run, ChargeKind.REDUCING_AGENT, "14.9")  # +1.59 %
    assert within.issues == () and within.run.charges[0].deviation_percent == Decimal("1.59")
    with pytest.raises(FailedPrecondition) as twice:
        charged(within.run, ChargeKind.REDUCING_AGENT, "14.9")
    assert reason(twice) == "CHARGE_ALREADY_RECORDED"
    outside = charged(run, ChargeKind.REDUCING_AGENT, "15.0")  # +2.27 %
    assert [issue.kind for issue in outside.issues] == ["charge"]
    assert not outside.run.charges[0].within_tolerance
    with pytest.raises(InvalidArgument) as not_a_volume:
        domain.record_charge(run, kind=ChargeKind.REDUCING_AGENT, actual=Amount("14", "mg"),
                             lot_id="L-1", recorded_by="op", now=T0)
    assert [v.field for v in not_a_volume.value.violations] == ["actual.unit"]


def test_ending_a_phase_judges_each_step_parameter_and_computes_its_duration() -> None:
    run = charged(started(new_run(), Phase.REDUCTION), ChargeKind.REDUCING_AGENT, "14.667").run
    later = T0 + timedelta(minutes=150)
    with pytest.raises(InvalidArgument) as missing:
        domain.end_phase(run, phase=Phase.REDUCTION, parameters={}, ended_by="op", now=later)
    assert [v.field for v in missing.value.violations] == ["parameters[temperature]"]
    with pytest.raises(InvalidArgument) as other_unit:
        domain.end_phase(run, phase=Phase.REDUCTION, ended_by="op", now=later,
                         parameters={"temperature": Amount("77", "[degF]")})
    assert [v.field for v in other_unit.value.violations] == ["parameters[temperature].unit"]
    ended = domain.end_phase(run, phase=Phase.REDUCTION, ended_by="op", now=later,
                             parameters={"temperature": Amount("25", "Cel")})
    parameters = {p.name: (p.value.value, p.within_limits) for p in ended.run.phases[0].parameters}
    assert parameters == {"duration": ("150.0", False), "temperature": ("25", True)}
    assert [issue.parameter.name for issue in ended.issues] == ["duration"]  # type: ignore[union-attr]
    assert ended.run.phases[0].end_time == later


def to_purification() -> domain.Run:
    run = new_run(average_dar=Limits(Decimal("3.5"), Decimal("4.5"), "1"))
    for phase, kind, volume in (
        (Phase.REDUCTION, ChargeKind.REDUCING_AGENT, "14.667"),
        (Phase.CONJUGATION, ChargeKind.DRUG_LINKER, "53.333"),
        (Phase.QUENCH, ChargeKind.QUENCH, "10.667"),
    ):
        run = charged(started(run, phase), kind, volume).run
        parameters = {"temperature": Amount("25", "Cel"), "duration": Amount("90", "min")} \
            if phase is Phase.REDUCTION else {}
        run = domain.end_phase(run, phase=phase, parameters=parameters, ended_by="op",
                               now=T0).run
    return started(run, Phase.PURIFICATION)


RESULTS = {
    Attribute.AVERAGE_DAR: Amount("4.0", "1"), Attribute.FREE_DRUG_LINKER: Amount("0.3", "%"),
    Attribute.MONOMER: Amount("97.5", "%"), Attribute.HMW: Amount("1.1", "%"),
    Attribute.CONCENTRATION: Amount("9.9", "mg/mL"),
    Attribute.ENDOTOXIN: Amount("0.02", "[EU]/mL"),
}
# D2 .2, D4 .6, D6 .2: sums to 1, weighted mean 4.0.
DISTRIBUTION = ["0", "0", "0.2", "0", "0.6", "0", "0.2", "0", "0"]


def results(run: domain.Run, distribution: list[str], average: str = "4.0") -> domain.Decided:
    values = {**RESULTS, Attribute.AVERAGE_DAR: Amount(average, "1")}
    return domain.record_results(run, dar_distribution=distribution, values=values,
                                 protein_out=Amount("8.5", "g"), recorded_by="qc", now=T0)


def test_results_check_the_dar_distribution_against_the_average_and_compute_the_yield() -> None:
    run = to_purification()
    decided = results(run, DISTRIBUTION)
    judged = {value.attribute: value.value.value for value in decided.run.results.values}  # type: ignore[union-attr]
    assert judged[Attribute.YIELD] == "85.0"  # 8.5 g out of 10 g in
    assert decided.issues == ()
    with pytest.raises(InvalidArgument) as not_one:
        results(run, ["0", "0", "0.2", "0", "0.6", "0", "0.21"])
    assert [v.field for v in not_one.value.violations] == ["dar_distribution"]
    with pytest.raises(InvalidArgument) as inconsistent:
        results(run, DISTRIBUTION, average="4.1")  # 4.0 ± 0.05
    assert [v.field for v in inconsistent.value.violations] == [
        "dar_distribution", "values[average_dar].value",
    ]
    within_tolerance = results(run, DISTRIBUTION, average="4.05")
    assert within_tolerance.issues == ()
    out_of_range = results(run, ["0", "0", "0", "0", "0", "0", "1"], average="6")
    assert [issue.result.attribute for issue in out_of_range.issues] == [  # type: ignore[union-attr]
        Attribute.AVERAGE_DAR
    ]


def test_results_wait_for_purification_and_every_value_is_named_when_bad() -> None:
    with pytest.raises(FailedPrecondition) as early:
        results(new_run(), DISTRIBUTION)
    assert reason(early) == "PHASE_OUT_OF_ORDER"
    run = to_purification()
    with pytest.raises(InvalidArgument) as bad:
        domain.record_results(
            run, dar_distribution=["x", "1.5"],
            values={Attribute.AVERAGE_DAR: Amount("NaN", "1"),
                    Attribute.MONOMER: Amount("97", "mg")},
            protein_out=Amount("8", "mL"), recorded_by="qc", now=T0,
        )
    assert [v.field for v in bad.value.violations] == [
        "dar_distribution[0]", "dar_distribution[1]", "values[average_dar].value",
        "values[free_drug_linker]", "values[monomer].unit", "values[hmw]",
        "values[concentration]", "values[endotoxin]", "protein_out.unit",
    ]


def test_purification_ending_completes_the_run() -> None:
    run = to_purification()
    done = domain.end_phase(run, phase=Phase.PURIFICATION, ended_by="op", now=T0,
                            parameters={"diavolumes": Amount("10", "1")})
    assert done.run.phase is Phase.COMPLETE
    with pytest.raises(FailedPrecondition) as after:
        started(done.run, Phase.REDUCTION)
    assert reason(after) == "PHASE_OUT_OF_ORDER"
