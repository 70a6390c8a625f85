"""A master batch record version as a standalone BatchML MasterRecipe document (B2MML V0701).

The procedure is nested as ISA-88 has it: MasterRecipe → Procedure → UnitProcedure →
Operation → Phase (one per step), each level with a ProcedureLogic that runs its children in
order (Step → Transition → Step ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

from lxml import etree

from services.batch_records.batchml import vocabulary as v
from services.batch_records.domain import MasterBatchRecord, ProcessParameter, Step
from services.common.signatures import SignatureMeaning


def export_master_recipe(record: MasterBatchRecord) -> bytes:
    content, version = record.content, str(record.version)
    recipe = etree.Element(v.qualified("MasterRecipe"), nsmap={None: v.B2MML})
    _add(recipe, "ID", record.record_id)
    _add(recipe, "Version", version)
    _add(recipe, "VersionDate", _datetime(record.update_time))
    _add(recipe, "Description", content.title)
    _header(recipe, record)
    _procedure_logic(recipe, [record.record_id], version)
    procedure = _recipe_element(recipe, record.record_id, version, content.process, v.PROCEDURE)
    _procedure_logic(procedure, [unit.id for unit in content.unit_procedures], version)
    for unit_procedure in content.unit_procedures:
        unit = _recipe_element(
            procedure, unit_procedure.id, version, unit_procedure.name, v.UNIT_PROCEDURE
        )
        _procedure_logic(unit, [operation.id for operation in unit_procedure.operations], version)
        for operation in unit_procedure.operations:
            element = _recipe_element(unit, operation.id, version, operation.name, v.OPERATION)
            _procedure_logic(element, [step.id for step in operation.steps], version)
            for step in operation.steps:
                _phase(element, step, version)
    _other_information(recipe, v.RECORD_STATE, record.state.value, "Code")
    return bytes(etree.tostring(recipe, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _add(parent: Any, name: str, text: str | None = None) -> Any:
    child = etree.SubElement(parent, v.qualified(name))
    if text is not None:
        child.text = text
    return child


def _datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _decimal(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def _header(recipe: Any, record: MasterBatchRecord) -> None:
    header = _add(recipe, "Header")
    log = _add(header, "ModificationLog")
    _add(log, "ModifiedDate", _datetime(record.update_time))
    _add(log, "Author", record.author)
    if record.signatures:
        history = _add(header, "ApprovalHistory")
        approvals = [s for s in record.signatures if s.meaning == SignatureMeaning.APPROVED]
        if approvals:
            _add(history, "FinalApprovalDate", _datetime(approvals[-1].sign_time))
        _add(history, "Version", str(record.version))
        for signature in record.signatures:
            approval = _add(history, "IndividualApproval")
            _add(approval, "ApprovedBy", f"{signature.printed_name} ({signature.signer})")
            _add(approval, "ApprovalDate", _datetime(signature.sign_time))
            reason = f": {signature.reason}" if signature.reason else ""
            _add(approval, "Description", f"{signature.meaning.value}{reason}")
    if record.effective_time is not None:
        _add(header, "EffectiveDate", _datetime(record.effective_time))
    _add(header, "ProductID", record.content.product)


def _procedure_logic(parent: Any, element_ids: Sequence[str], version: str) -> None:
    """Runs the recipe elements in order: each step's completion is the next one's transition."""
    logic = _add(parent, "ProcedureLogic")
    for number, (before, after) in enumerate(pairwise(element_ids), 1):
        transition = f"T{number}"
        _link(logic, f"L{2 * number - 1}", ("Step", before), ("Transition", transition))
        _link(logic, f"L{2 * number}", ("Transition", transition), ("Step", after))
    for element_id in element_ids:
        step = _add(logic, "Step")
        _add(step, "ID", element_id)
        _add(step, "RecipeElementID", element_id)
        _add(step, "RecipeElementVersion", version)
    for number, before in enumerate(element_ids[:-1], 1):
        transition = _add(logic, "Transition")
        _add(transition, "ID", f"T{number}")
        _add(transition, "Condition", f"{before}.STATE = COMPLETE")


def _link(logic: Any, link_id: str, source: tuple[str, str], target: tuple[str, str]) -> None:
    link = _add(logic, "Link")
    _add(link, "ID", link_id)
    for end, (kind, node_id) in (("From", source), ("To", target)):
        node = _add(link, f"{end}ID")
        _add(node, f"{end}IDValue", node_id)
        _add(node, f"{end}Type", kind)
        _add(node, "IDScope", "Internal")
    _add(link, "LinkType", "ControlLink")
    _add(link, "Depiction", "LineAndArrow")


def _recipe_element(
    parent: Any, element_id: str, version: str, description: str, element_type: str
) -> Any:
    element = _add(parent, "RecipeElement")
    _add(element, "ID", element_id)
    _add(element, "Version", version)
    _add(element, "Description", description)
    _add(element, "RecipeElementType", element_type)
    return element


def _phase(operation: Any, step: Step, version: str) -> None:
    phase = _recipe_element(operation, step.id, version, step.name, v.PHASE)
    for parameter in step.parameters:
        _parameter(phase, parameter)
    _other_information(phase, v.INSTRUCTION, step.instruction, "string")
    if step.kind is not None:
        _other_information(phase, v.STEP_KIND, step.kind.value, "Code")
    _other_information(phase, v.REQUIRES_VERIFICATION, _boolean(step.requires_verification))
    _other_information(phase, v.PARALLEL_ALLOWED, _boolean(step.parallel_allowed))


def _parameter(phase: Any, parameter: ProcessParameter) -> None:
    element = _add(phase, "Parameter")
    _add(element, "ID", parameter.name)
    _add(element, "ParameterType", "ProcessParameter")
    if parameter.critical:
        _add(element, "ParameterSubType", v.CRITICAL)
    # No target: the value is entered when the step is executed.
    interpretation = "External" if parameter.target is None else "Constant"
    _value(element, _decimal(parameter.target), interpretation, "decimal", parameter.unit)
    for limit_id, field in v.LIMITS.items():
        limit = getattr(parameter, field)
        if limit is not None:
            child = _add(element, "Parameter")
            _add(child, "ID", limit_id)
            _add(child, "ParameterType", "ProcessParameter")
            _value(child, _decimal(limit), "Constant", "decimal", parameter.unit)


def _other_information(parent: Any, info_id: str, text: str, data_type: str = "boolean") -> None:
    info = _add(parent, "OtherInformation")
    _add(info, "ID", info_id)
    _value(info, text, "Constant", data_type, "")


def _value(parent: Any, text: str, interpretation: str, data_type: str, unit: str) -> None:
    value = _add(parent, "Value")
    _add(value, "ValueString", text)
    _add(value, "DataInterpretation", interpretation)
    _add(value, "DataType", data_type)
    _add(value, "UnitOfMeasure", unit)


def _boolean(flag: bool) -> str:
    return "true" if flag else "false"
