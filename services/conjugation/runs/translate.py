"""Protobuf ⇄ domain for conjugation runs."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from twinline.batchrecords.v1 import master_batch_record_pb2 as recipe_pb
from twinline.common.v1 import quantity_pb2
from twinline.conjugation.v1 import run_pb2 as pb

from services.common.domain import bounds
from services.common.domain.errors import FieldViolation, InvalidArgument, Violations
from services.common.grpc.translate import enum_map, inverse, moment, timestamp
from services.conjugation.runs import stoichiometry
from services.conjugation.runs.domain import (
    ATTRIBUTE_UNIT,
    CHARGE_FIGURE,
    MAX_ACCEPTANCE,
    Attribute,
    Charge,
    ChargeKind,
    Limits,
    Lots,
    Phase,
    PhaseParameter,
    PhaseRecord,
    Results,
    ResultValue,
    Run,
    StepLimits,
    decimal_of,
)
from services.conjugation.runs.stoichiometry import Amount, Figure

PHASE_TO_PROTO = enum_map(Phase, pb.Phase, "PHASE")
PHASE_FROM_PROTO = inverse(PHASE_TO_PROTO)
CHARGE_TO_PROTO = enum_map(ChargeKind, pb.ChargeKind, "CHARGE_KIND")
CHARGE_FROM_PROTO = inverse(CHARGE_TO_PROTO)
ATTRIBUTE_TO_PROTO = enum_map(Attribute, pb.Attribute, "ATTRIBUTE")
ATTRIBUTE_FROM_PROTO = inverse(ATTRIBUTE_TO_PROTO)
CO_SOLVENTS = {pb.CO_SOLVENT_DMSO: "DMSO", pb.CO_SOLVENT_DMA: "DMA"}
CO_SOLVENT_TO_PROTO = {text: value for value, text in CO_SOLVENTS.items()}

# The stoichiometry's input names → the request's fields, so every violation names the field
# the client sent.
INPUT_FIELDS = {
    "antibody_concentration": "antibody_concentration",
    "antibody_volume": "antibody_volume",
    "antibody_molecular_weight": "antibody_molecular_weight",
    "reducer_stock": "reducing_agent_stock",
    "reducer_equivalents": "reducing_agent_equivalents",
    "drug_linker_molecular_weight": "drug_linker_molecular_weight",
    "drug_linker_stock": "drug_linker_stock",
    "drug_linker_equivalents": "drug_linker_equivalents",
    "max_cosolvent_percent": "max_co_solvent_percent",
    "quench_stock": "quench_stock",
    "quench_equivalents": "quench_equivalents",
}


def amount_of(message: quantity_pb2.Quantity) -> Amount:
    return Amount(message.value, message.unit)


def quantity(amount: Amount) -> quantity_pb2.Quantity:
    return quantity_pb2.Quantity(value=amount.value, unit=amount.unit)


def inputs_from_proto(message: pb.Inputs, prefix: str = "inputs") -> stoichiometry.Inputs:
    return stoichiometry.Inputs(
        antibody_concentration=amount_of(message.antibody_concentration),
        antibody_volume=amount_of(message.antibody_volume),
        antibody_molecular_weight=amount_of(message.antibody_molecular_weight),
        reducer_stock=amount_of(message.reducing_agent_stock),
        reducer_equivalents=message.reducing_agent_equivalents,
        drug_linker_molecular_weight=amount_of(message.drug_linker_molecular_weight),
        drug_linker_stock=amount_of(message.drug_linker_stock),
        drug_linker_equivalents=message.drug_linker_equivalents,
        max_cosolvent_percent=message.max_co_solvent_percent,
        quench_stock=amount_of(message.quench_stock),
        quench_equivalents=message.quench_equivalents,
    )


def lots_from_proto(message: pb.Inputs, violations: Violations, prefix: str = "inputs") -> Lots:
    for name in ("antibody_lot", "reducing_agent", "reducing_agent_lot", "drug_linker",
                 "drug_linker_lot", "quench_agent", "quench_lot"):
        bounds.text(f"{prefix}.{name}", getattr(message, name), bounds.ID_LEN, violations,
                    required=True)
    co_solvent = CO_SOLVENTS.get(message.co_solvent)
    if co_solvent is None:
        violations.add(f"{prefix}.co_solvent", "is required: DMSO or DMA")
    return Lots(
        antibody=message.antibody_lot, reducing_agent=message.reducing_agent,
        reducing_agent_lot=message.reducing_agent_lot, drug_linker=message.drug_linker,
        drug_linker_lot=message.drug_linker_lot, co_solvent=co_solvent or "",
        quench_agent=message.quench_agent, quench_lot=message.quench_lot,
    )


def renamed(error: InvalidArgument, prefix: str = "inputs") -> InvalidArgument:
    """The stoichiometry's violations under the request's field names."""
    items = []
    for violation in error.violations:
        head, dot, rest = violation.field.partition(".")
        items.append(FieldViolation(
            f"{prefix}.{INPUT_FIELDS.get(head, head)}{dot}{rest}", violation.description
        ))
    return InvalidArgument(items)


def compute(inputs: stoichiometry.Inputs) -> tuple[Figure, ...]:
    try:
        return stoichiometry.compute(inputs)
    except InvalidArgument as error:
        raise renamed(error) from None


def step_limits_of(
    recipe: recipe_pb.MasterBatchRecord, phase_steps: Iterable[pb.PhaseStep],
) -> tuple[dict[Phase, StepLimits], Violations]:
    """Each phase's step in the control recipe, with its parameters' limits."""
    violations = Violations()
    steps = {
        step.id: step
        for unit_procedure in recipe.unit_procedures
        for operation in unit_procedure.operations
        for step in operation.steps
    }
    chosen: dict[Phase, StepLimits] = {}
    for index, mapping in enumerate(phase_steps):
        path = f"phase_steps[{index}]"
        phase = PHASE_FROM_PROTO.get(mapping.phase)
        if phase is None or phase in (Phase.SETUP, Phase.COMPLETE):
            violations.add(f"{path}.phase", "must be a running phase (reduction ... "
                           "purification)")
            continue
        if phase in chosen:
            violations.add(f"{path}.phase", f"{phase.value} is mapped twice")
            continue
        step = steps.get(mapping.step_id)
        if step is None:
            violations.add(f"{path}.step_id", f"{mapping.step_id!r} is not a step of the "
                           "batch's master record")
            continue
        chosen[phase] = StepLimits(step.id, {
            parameter.name: Limits(
                decimal_of(f"{path}.{parameter.name}.low_limit", parameter.low_limit,
                           violations),
                decimal_of(f"{path}.{parameter.name}.high_limit", parameter.high_limit,
                           violations),
                parameter.unit,
            )
            for parameter in step.parameters
        })
    return chosen, violations


def acceptance_from_proto(
    ranges: Iterable[pb.AcceptanceRange], violations: Violations
) -> dict[Attribute, Limits]:
    chosen: dict[Attribute, Limits] = {}
    for index, item in enumerate(ranges):
        path = f"acceptance[{index}]"
        if index >= MAX_ACCEPTANCE:
            violations.add("acceptance", f"at most {MAX_ACCEPTANCE} ranges")
            break
        attribute = ATTRIBUTE_FROM_PROTO.get(item.attribute)
        if attribute is None:
            violations.add(f"{path}.attribute", "is required")
            continue
        if attribute in chosen:
            violations.add(f"{path}.attribute", f"{attribute.value} has a range already")
            continue
        low = decimal_of(f"{path}.low", item.low, violations)
        high = decimal_of(f"{path}.high", item.high, violations)
        if low is not None and high is not None and low > high:
            violations.add(f"{path}.low", "is above high")
        chosen[attribute] = Limits(low, high, ATTRIBUTE_UNIT[attribute])
    return chosen


def _text(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def limits_to_proto(limits: Limits | None) -> pb.Limits | None:
    if limits is None:
        return None
    return pb.Limits(low=_text(limits.low), high=_text(limits.high), unit=limits.unit)


def _limits_from_proto(message: pb.Limits) -> Limits:
    return Limits(
        None if message.low == "" else Decimal(message.low),
        None if message.high == "" else Decimal(message.high), message.unit,
    )


def calculation_to_proto(figure: Figure) -> pb.Calculation:
    return pb.Calculation(
        name=figure.name, formula=figure.formula,
        inputs=[pb.Operand(symbol=symbol, value=value) for symbol, value in figure.inputs],
        result=quantity_pb2.Quantity(value=str(figure.value), unit=figure.unit),
    )


def inputs_to_proto(run: Run) -> pb.Inputs:
    given, lots = run.inputs, run.lots
    return pb.Inputs(
        antibody_lot=lots.antibody,
        antibody_concentration=quantity(given.antibody_concentration),
        antibody_volume=quantity(given.antibody_volume),
        antibody_molecular_weight=quantity(given.antibody_molecular_weight),
        reducing_agent=lots.reducing_agent, reducing_agent_lot=lots.reducing_agent_lot,
        reducing_agent_stock=quantity(given.reducer_stock),
        reducing_agent_equivalents=given.reducer_equivalents,
        drug_linker=lots.drug_linker, drug_linker_lot=lots.drug_linker_lot,
        drug_linker_molecular_weight=quantity(given.drug_linker_molecular_weight),
        drug_linker_stock=quantity(given.drug_linker_stock),
        co_solvent=CO_SOLVENT_TO_PROTO.get(lots.co_solvent, pb.CO_SOLVENT_UNSPECIFIED),
        drug_linker_equivalents=given.drug_linker_equivalents,
        max_co_solvent_percent=given.max_cosolvent_percent,
        quench_agent=lots.quench_agent, quench_lot=lots.quench_lot,
        quench_stock=quantity(given.quench_stock),
        quench_equivalents=given.quench_equivalents,
    )


def charge_to_proto(charge: Charge) -> pb.Charge:
    return pb.Charge(
        kind=CHARGE_TO_PROTO[charge.kind],
        computed=quantity_pb2.Quantity(value=str(charge.computed.value),
                                       unit=charge.computed.unit),
        actual=quantity(charge.actual), deviation_percent=str(charge.deviation_percent),
        within_tolerance=charge.within_tolerance, lot_id=charge.lot_id,
        recorded_by=charge.recorded_by, record_time=timestamp(charge.record_time),
    )


def parameter_to_proto(parameter: PhaseParameter) -> pb.PhaseParameter:
    return pb.PhaseParameter(
        name=parameter.name, value=quantity(parameter.value),
        limits=limits_to_proto(parameter.limits), within_limits=parameter.within_limits,
    )


def result_to_proto(result: ResultValue) -> pb.ResultValue:
    return pb.ResultValue(
        attribute=ATTRIBUTE_TO_PROTO[result.attribute], value=quantity(result.value),
        within_range=result.within_range,
    )


def run_to_proto(run: Run) -> pb.Run:
    message = pb.Run(
        name=run.name, run_id=run.run_id, home_site=run.home_site,
        batch=f"batches/{run.batch_id}", product=run.product, phase=PHASE_TO_PROTO[run.phase],
        inputs=inputs_to_proto(run),
        calculations=[calculation_to_proto(figure) for figure in run.calculations],
        charges=[charge_to_proto(charge) for charge in run.charges],
        phases=[
            pb.PhaseRecord(
                phase=PHASE_TO_PROTO[record.phase], start_time=timestamp(record.start_time),
                end_time=timestamp(record.end_time),
                parameters=[parameter_to_proto(parameter) for parameter in record.parameters],
                started_by=record.started_by, ended_by=record.ended_by,
            )
            for record in run.phases
        ],
        phase_steps=[
            pb.PhaseStep(phase=PHASE_TO_PROTO[phase], step_id=step.step_id)
            for phase, step in run.phase_steps.items()
        ],
        acceptance=[
            pb.AcceptanceRange(attribute=ATTRIBUTE_TO_PROTO[attribute],
                               low=_text(limits.low), high=_text(limits.high))
            for attribute, limits in run.acceptance.items()
        ],
        charge_tolerance_percent=str(run.charge_tolerance),
        dar_sum_tolerance=str(run.dar_sum_tolerance),
        dar_mean_tolerance=str(run.dar_mean_tolerance),
        created_by=run.created_by, create_time=timestamp(run.create_time),
        update_time=timestamp(run.update_time), etag=run.etag,
    )
    if run.results is not None:
        results = run.results
        message.results.CopyFrom(pb.InProcessResults(
            dar_distribution=[str(value) for value in results.dar_distribution],
            values=[result_to_proto(result) for result in results.values],
            protein_out=quantity(results.protein_out), recorded_by=results.recorded_by,
            record_time=timestamp(results.record_time),
        ))
    return message


def run_from_proto(message: pb.Run, step_limits: dict[Phase, StepLimits]) -> Run:
    """A stored run (its figures computed again from its inputs: the same, exactly)."""
    inputs = inputs_from_proto(message.inputs)
    calculations = stoichiometry.compute(inputs)
    figures = {figure.name: figure for figure in calculations}
    charges = tuple(
        Charge(
            kind=CHARGE_FROM_PROTO[charge.kind],
            computed=figures[CHARGE_FIGURE[CHARGE_FROM_PROTO[charge.kind]]],
            actual=amount_of(charge.actual), deviation_percent=Decimal(charge.deviation_percent),
            within_tolerance=charge.within_tolerance, lot_id=charge.lot_id,
            recorded_by=charge.recorded_by, record_time=moment(charge.record_time),
        )
        for charge in message.charges
    )
    phases = tuple(
        PhaseRecord(
            phase=PHASE_FROM_PROTO[record.phase], start_time=moment(record.start_time),
            started_by=record.started_by,
            end_time=moment(record.end_time) if record.HasField("end_time") else None,
            ended_by=record.ended_by,
            parameters=tuple(
                PhaseParameter(
                    parameter.name, amount_of(parameter.value),
                    _limits_from_proto(parameter.limits) if parameter.HasField("limits")
                    else None, parameter.within_limits,
                )
                for parameter in record.parameters
            ),
        )
        for record in message.phases
    )
    results = None
    if message.HasField("results"):
        stored = message.results
        results = Results(
            tuple(Decimal(value) for value in stored.dar_distribution),
            tuple(
                ResultValue(ATTRIBUTE_FROM_PROTO[value.attribute], amount_of(value.value),
                            value.within_range)
                for value in stored.values
            ),
            amount_of(stored.protein_out), stored.recorded_by, moment(stored.record_time),
        )
    violations = Violations()
    return Run(
        run_id=message.run_id, home_site=message.home_site,
        batch_id=message.batch.removeprefix("batches/"), product=message.product,
        phase=PHASE_FROM_PROTO[message.phase], inputs=inputs,
        lots=lots_from_proto(message.inputs, violations), calculations=calculations,
        phase_steps=step_limits,
        acceptance=acceptance_from_proto(message.acceptance, violations),
        charge_tolerance=Decimal(message.charge_tolerance_percent),
        dar_sum_tolerance=Decimal(message.dar_sum_tolerance),
        dar_mean_tolerance=Decimal(message.dar_mean_tolerance),
        created_by=message.created_by, create_time=moment(message.create_time),
        update_time=moment(message.update_time), charges=charges, phases=phases,
        results=results, revision=int(message.etag),
    )
