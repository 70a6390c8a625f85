"""A master batch record's recipe (protobuf) as the recipe the differences are taken of."""

from __future__ import annotations

from decimal import Decimal

from twinline.batchrecords.v1 import master_batch_record_pb2 as pb

from services.common.domain import bounds
from services.common.domain.errors import Violations
from services.tech_transfer.packages.recipe_diff import (
    Operation,
    Parameter,
    Recipe,
    Step,
    UnitProcedure,
)

KIND_PREFIX = "STEP_KIND_"


def recipe_from_proto(record: pb.MasterBatchRecord) -> Recipe:
    """The record's unit procedures, operations, steps and parameters, in their order.

    Raises InvalidArgument naming every limit, target or alert that is not a decimal (an
    empty one is no value).
    """
    violations = Violations()
    recipe = Recipe(tuple(
        UnitProcedure(
            unit_procedure.id, unit_procedure.name,
            tuple(
                Operation(
                    operation.id, operation.name,
                    tuple(
                        _step(step, f"unit_procedures[{u}].operations[{o}].steps[{s}]",
                              violations)
                        for s, step in enumerate(operation.steps)
                    ),
                )
                for o, operation in enumerate(unit_procedure.operations)
            ),
        )
        for u, unit_procedure in enumerate(record.unit_procedures)
    ))
    violations.raise_if_any()
    return recipe


def _step(step: pb.Step, path: str, violations: Violations) -> Step:
    return Step(
        id=step.id, name=step.name, kind=_kind(step.kind), instruction=step.instruction,
        requires_verification=step.requires_verification,
        parameters=tuple(
            _parameter(parameter, f"{path}.parameters[{p}]", violations)
            for p, parameter in enumerate(step.parameters)
        ),
        parallel_allowed=step.parallel_allowed,
    )


def _parameter(parameter: pb.ProcessParameter, path: str, violations: Violations) -> Parameter:
    def number(field: str) -> Decimal | None:
        text = getattr(parameter, field)
        return None if text == "" else bounds.decimal(f"{path}.{field}", text, violations)

    return Parameter(
        name=parameter.name, unit=parameter.unit, target=number("target"),
        low=number("low_limit"), high=number("high_limit"), critical=parameter.critical,
        alert_low=number("alert_low"), alert_high=number("alert_high"),
    )


def _kind(kind: pb.StepKind.ValueType) -> str:
    """``STEP_KIND_PROCESS_PARAMETER`` → ``PROCESS_PARAMETER``; an unknown number as itself."""
    try:
        return pb.StepKind.Name(kind).removeprefix(KIND_PREFIX)
    except ValueError:
        return str(kind)
