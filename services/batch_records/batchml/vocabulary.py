"""The BatchML names Twinline reads and writes: namespaces, element types, and the conventions
for what BatchML has no element of its own (see docs/batchml.md)."""

from __future__ import annotations

B2MML = "http://www.mesa.org/xml/B2MML"
WBF_BATCHML = "http://www.wbf.org/xml/BatchML-V02"
NS = {"b": B2MML}
ROOTS = ("MasterRecipe", "BatchInformation")

# RecipeElementType for each level of the ISA-88 procedure, top down.
PROCEDURE, UNIT_PROCEDURE, OPERATION, PHASE = "Procedure", "UnitProcedure", "Operation", "Phase"
# Procedure-logic markers, not procedural elements: skipped when reading.
MARKERS = frozenset({"Begin", "End"})

# OtherInformation IDs on a Phase (one step) and on the MasterRecipe.
INSTRUCTION = "Instruction"
STEP_KIND = "StepKind"
REQUIRES_VERIFICATION = "RequiresVerification"
PARALLEL_ALLOWED = "ParallelAllowed"
RECORD_STATE = "RecordState"

# A process parameter's limits: child Parameters by ID, and the domain field each fills.
LIMITS = {
    "LowLimit": "low_limit",
    "HighLimit": "high_limit",
    "AlertLow": "alert_low",
    "AlertHigh": "alert_high",
}
# ParameterSubType marking a critical process parameter; "Critical" and CTQ (critical to
# quality) are read as critical as well.
CRITICAL = "CPP"
CRITICAL_SUBTYPES = frozenset({"cpp", "critical", "ctq"})
# The ParameterType of a process parameter; ProcessInput/ProcessOutput are materials, Other is
# anything else: neither has a place in a step's parameters.
PROCESS_PARAMETER = "ProcessParameter"
# Procedure-logic node types a Link connects (FromType/ToType).
STEP, TRANSITION, LINK = "Step", "Transition", "Link"


def qualified(name: str) -> str:
    """An element name in the V0701 namespace, in Clark notation."""
    return f"{{{B2MML}}}{name}"
