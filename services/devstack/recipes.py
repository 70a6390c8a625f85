"""Master recipes for the demo, the benchmarks and the tests, from one small builder."""

from __future__ import annotations

from twinline.batchrecords.v1 import master_batch_record_pb2 as pb

ADDITION = pb.STEP_KIND_MATERIAL_ADDITION
PARAMETERS = pb.STEP_KIND_PROCESS_PARAMETER


def parameter(
    name: str, unit: str, target: str, low: str, high: str, *, critical: bool = False
) -> pb.ProcessParameter:
    return pb.ProcessParameter(
        name=name, unit=unit, target=target, low_limit=low, high_limit=high, critical=critical
    )


def step(
    step_id: str, name: str, kind: pb.StepKind.ValueType, instruction: str, *,
    verified: bool = False, parameters: tuple[pb.ProcessParameter, ...] = (),
) -> pb.Step:
    return pb.Step(
        id=step_id, name=name, kind=kind, instruction=instruction,
        requires_verification=verified, parameters=parameters,
    )


def operation(operation_id: str, name: str, *steps: pb.Step) -> pb.Operation:
    return pb.Operation(id=operation_id, name=name, steps=steps)


def unit_procedure(procedure_id: str, name: str, *operations: pb.Operation) -> pb.UnitProcedure:
    return pb.UnitProcedure(id=procedure_id, name=name, operations=operations)


def recipe(
    product: str, process: str, title: str, *procedures: pb.UnitProcedure
) -> pb.MasterBatchRecord:
    return pb.MasterBatchRecord(
        product=product, process=process, title=title, unit_procedures=procedures
    )


def conjugation_recipe(product: str = "TWX-101") -> pb.MasterBatchRecord:
    """Two operations, three parameters: the tests' and the benchmarks' recipe."""
    return recipe(
        product, "cysteine conjugation, 200 L", f"{product} conjugation",
        unit_procedure(
            "UP1", "Conjugation",
            operation(
                "OP1", "Partial reduction",
                step(
                    "S1", "Add TCEP", PARAMETERS, "Add 2.5 molar eq. TCEP; hold 90 min.",
                    verified=True,
                    parameters=(
                        parameter("temperature", "Cel", "25", "20", "30", critical=True),
                        parameter("TCEP", "mol/mol", "2.5", "2.0", "3.0"),
                    ),
                ),
            ),
            operation(
                "OP2", "Conjugation",
                step(
                    "S2", "Add drug-linker", ADDITION,
                    "Add maleimide drug-linker in DMSO (≤ 10 % v/v).",
                ),
            ),
        ),
    )


def demo_recipe() -> pb.MasterBatchRecord:
    """``make demo``'s recipe: reduction, conjugation and quench at reactor R-201."""
    return recipe(
        "TWX-101 ADC drug substance", "cysteine conjugation, 200 L",
        "TWX-101 conjugation, DAR 4 target",
        unit_procedure(
            "UP1", "Conjugation reactor R-201",
            operation(
                "OP1", "Partial reduction",
                step(
                    "S1", "Charge antibody", ADDITION,
                    "Charge the antibody intermediate to R-201.", verified=True,
                ),
                step(
                    "S2", "Reduce with TCEP", PARAMETERS, "Add TCEP and hold.", verified=True,
                    parameters=(
                        parameter("TCEP", "mol/mol", "2.5", "2.0", "3.0", critical=True),
                        parameter("temperature", "Cel", "25", "20", "30", critical=True),
                        parameter("hold time", "min", "90", "60", "120"),
                    ),
                ),
            ),
            operation(
                "OP2", "Conjugation and quench",
                step(
                    "S3", "Add drug-linker", PARAMETERS, "Add maleimide drug-linker in DMSO.",
                    parameters=(parameter("co-solvent", "%", "8", "5", "10", critical=True),),
                ),
                step("S4", "Quench", ADDITION, "Quench with N-acetyl-cysteine."),
            ),
        ),
    )


def one_step_recipe(step_id: str = "S1") -> pb.MasterBatchRecord:
    """One process-parameter step without verification: a batch is done in one RecordStep."""
    return recipe(
        "TWX-BENCH", "bench, one step", "TWX-BENCH step-record bench",
        unit_procedure(
            "UP1", "Reaction",
            operation(
                "OP1", "Hold",
                step(
                    step_id, "Hold at temperature", PARAMETERS, "Hold the reactor at 25 °C.",
                    parameters=(parameter("temperature", "Cel", "25", "20", "30"),),
                ),
            ),
        ),
    )
