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
from services.batch_records.master.domain import MasterBatchRecord, ProcessParameter, Step
from services.common.domain.signatures import SignatureMeaning


def export_master_recipe(record: MasterBatchRecord) -> bytes:
    content, version = record.content, str(record.version)
    recipe = etree.Element(v.qualified("MasterRecipe"), nsmap={None: v.B2MML})
    add_element(recipe, "ID", record.record_id)
    add_element(recipe, "Version", version)
    add_element(recipe, "VersionDate", xml_datetime(record.update_time))
    add_element(recipe, "Description", content.title)
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


def add_element(parent: Any, name: str, text: str | None = None) -> Any:
    child = etree.SubElement(parent, v.qualified(name))
    if text is not None:
        child.text = text
    return child


def xml_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def xml_decimal(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def _header(recipe: Any, record: MasterBatchRecord) -> None:
    header = add_element(recipe, "Header")
    log = add_element(header, "ModificationLog")
    add_element(log, "ModifiedDate", xml_datetime(record.update_time))
    add_element(log, "Author", record.author)
    if record.signatures:
        history = add_element(header, "ApprovalHistory")
        approvals = [s for s in record.signatures if s.meaning == SignatureMeaning.APPROVED]
        if approvals:
            add_element(history, "FinalApprovalDate", xml_datetime(approvals[-1].sign_time))
        add_element(history, "Version", str(record.version))
        for signature in record.signatures:
            approval = add_element(history, "IndividualApproval")
            add_element(approval, "ApprovedBy", f"{signature.printed_name} ({signature.signer})")
            add_element(approval, "ApprovalDate", xml_datetime(signature.sign_time))
            reason = f": {signature.reason}" if signature.reason else ""
            add_element(approval, "Description", f"{signature.meaning.value}{reason}")
    if record.effective_time is not None:
        add_element(header, "EffectiveDate", xml_datetime(record.effective_time))
    add_element(header, "ProductID", record.content.product)


def _procedure_logic(parent: Any, element_ids: Sequence[str], version: str) -> None:
    """Runs the recipe elements in order: each step's completion is the next one's transition."""
    logic = add_element(parent, "ProcedureLogic")
    for number, (before, after) in enumerate(pairwise(element_ids), 1):
        transition = f"T{number}"
        _link(logic, f"L{2 * number - 1}", ("Step", before), ("Transition", transition))
        _link(logic, f"L{2 * number}", ("Transition", transition), ("Step", after))
    for element_id in element_ids:
        step = add_element(logic, "Step")
        add_element(step, "ID", element_id)
        add_element(step, "RecipeElementID", element_id)
        add_element(step, "RecipeElementVersion", version)
    for number, before in enumerate(element_ids[:-1], 1):
        transition = add_element(logic, "Transition")
        add_element(transition, "ID", f"T{number}")
        add_element(transition, "Condition", f"{before}.STATE = COMPLETE")


def _link(logic: Any, link_id: str, source: tuple[str, str], target: tuple[str, str]) -> None:
    link = add_element(logic, "Link")
    add_element(link, "ID", link_id)
    for end, (kind, node_id) in (("From", source), ("To", target)):
        node = add_element(link, f"{end}ID")
        add_element(node, f"{end}IDValue", node_id)
        add_element(node, f"{end}Type", kind)
        add_element(node, "IDScope", "Internal")
    add_element(link, "LinkType", "ControlLink")
    add_element(link, "Depiction", "LineAndArrow")


def _recipe_element(
    parent: Any, element_id: str, version: str, description: str, element_type: str
) -> Any:
    element = add_element(parent, "RecipeElement")
    add_element(element, "ID", element_id)
    add_element(element, "Version", version)
    add_element(element, "Description", description)
    add_element(element, "RecipeElementType", element_type)
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
    element = add_element(phase, "Parameter")
    add_element(element, "ID", parameter.name)
    add_element(element, "ParameterType", "ProcessParameter")
    if parameter.critical:
        add_element(element, "ParameterSubType", v.CRITICAL)
    # No target: the value is entered when the step is executed.
    interpretation = "External" if parameter.target is None else "Constant"
    _value(element, xml_decimal(parameter.target), interpretation, "decimal", parameter.unit)
    for limit_id, field in v.LIMITS.items():
        limit = getattr(parameter, field)
        if limit is not None:
            child = add_element(element, "Parameter")
            add_element(child, "ID", limit_id)
            add_element(child, "ParameterType", "ProcessParameter")
            _value(child, xml_decimal(limit), "Constant", "decimal", parameter.unit)


def _other_information(parent: Any, info_id: str, text: str, data_type: str = "boolean") -> None:
    info = add_element(parent, "OtherInformation")
    add_element(info, "ID", info_id)
    _value(info, text, "Constant", data_type, "")


def _value(parent: Any, text: str, interpretation: str, data_type: str, unit: str) -> None:
    value = add_element(parent, "Value")
    add_element(value, "ValueString", text)
    add_element(value, "DataInterpretation", interpretation)
    add_element(value, "DataType", data_type)
    add_element(value, "UnitOfMeasure", unit)


def _boolean(flag: bool) -> str:
    return "true" if flag else "false"
