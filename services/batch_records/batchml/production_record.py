"""An executed batch as a standalone BatchML BatchProductionRecord document (B2MML V0701).

Every entry has an EntryID that other entries point at: a value's correction, a signature or a
comment names the entry it concerns by RecordReference. The mapping is in docs/batchml.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from lxml import etree

from services.batch_records.batches.domain import (
    Batch,
    BatchException,
    BatchState,
    Deviation,
    ExceptionKind,
    ParameterValue,
    Quantity,
    StepExecution,
    StepStatus,
    recipe_steps,
)
from services.batch_records.batchml import vocabulary as v
from services.batch_records.batchml.export import (
    add_element,
    export_master_recipe,
    xml_datetime,
    xml_decimal,
)
from services.batch_records.batchml.schema import SCHEMA_FILE as BATCH_INFORMATION_SCHEMA_FILE
from services.common.domain.signatures import SignatureRecord

# Includes BatchML-BatchInformation.xsd, so one schema validates the embedded recipes too.
SCHEMA_FILE = BATCH_INFORMATION_SCHEMA_FILE.with_name("BatchML-BatchProductionRecord.xsd")

# The EventSubType of each exception; "Other" carries the kind in its OtherValue.
EXCEPTION_SUBTYPES = {
    ExceptionKind.OUT_OF_LIMITS: "Parameter Data",
    ExceptionKind.OUTSIDE_ALERT_RANGE: "Parameter Data",
    ExceptionKind.EQUIPMENT_OVERRIDE: "Equipment",
}
# ISA-95 response states of the batch as a whole.
RESPONSE_STATES = {
    BatchState.CREATED: "Ready",
    BatchState.IN_PROGRESS: "Running",
    BatchState.ON_HOLD: "Held",
    BatchState.COMPLETED: "Completed",
    BatchState.IN_REVIEW: "Completed",
    BatchState.APPROVED: "Closed",
    BatchState.REJECTED: "Closed",
}
# Master recipe children that describe the procedure: carried once, in the control recipe.
PROCEDURE_ELEMENTS = ("ProcedureLogic", "RecipeElement")

Signed = tuple[str, str, SignatureRecord]  # (signed entry, what was signed, signature)


def export_batch_production_record(batch: Batch) -> bytes:
    record = etree.Element(v.qualified("BatchProductionRecord"), nsmap={None: v.B2MML})
    add_element(record, "ID", batch.batch_id)
    _entry(record, batch.batch_id, "Batch Production Record", batch.update_time,
           f"Batch {batch.batch_id} of {batch.recipe.content.title}", reference=batch.name)
    add_element(record, "EquipmentScope", batch.home_site)
    add_element(record, "CreationDate", xml_datetime(batch.create_time))
    add_element(record, "BatchID", batch.batch_id)
    add_element(record, "LastChangedDate", xml_datetime(batch.update_time))
    add_element(record, "MaterialDefinitionID", batch.recipe.content.product)
    add_element(record, "RecordStatus", batch.state.value)
    add_element(record, "Version", str(batch.revision))
    recorded = [step for step in batch.steps if step.status != StepStatus.NOT_STARTED]
    _change_history(record, recorded)
    _comments(record, recorded)
    # Without blank text, pretty printing indents the moved recipe parts like the rest.
    master = etree.fromstring(
        export_master_recipe(batch.recipe), etree.XMLParser(remove_blank_text=True)
    )
    procedure = [c for c in master if etree.QName(c).localname in PROCEDURE_ELEMENTS]
    _control_recipe(record, batch, procedure)  # moves the procedure out of master
    _events(record, batch, recorded)
    _master_recipe(record, batch, master)
    _personnel_identification(record, _signatures(batch))
    if recorded:
        _operations_performance(record, batch, recorded)
    return bytes(etree.tostring(record, xml_declaration=True, encoding="UTF-8", pretty_print=True))


# --- entry ids: unique by construction. Each kind has its own first segment, and '/' never
# occurs in a step, exception or deviation id; a parameter name (which may hold '/') is last.

def _step_entry(step_id: str) -> str:
    return f"step/{step_id}"


def _value_entry(step_id: str, parameter: str) -> str:
    return f"step/{step_id}/{parameter}"


def _exception_entry(exception_id: str) -> str:
    return f"exception/{exception_id}"


def _deviation_entry(deviation_id: str) -> str:
    return f"deviation/{deviation_id}"


# --- building blocks ----------------------------------------------------------------------

def _entry(
    parent: Any, entry_id: str, object_type: str, time: datetime | None, *descriptions: str,
    reference: str = "", other_type: str = "",
) -> None:
    """The BatchProductionRecordEntryType group every BPR object starts with."""
    add_element(parent, "EntryID", entry_id)
    _coded(parent, "ObjectType", object_type, other_type)
    if time is not None:
        add_element(parent, "TimeStamp", xml_datetime(time))
    if reference:
        add_element(parent, "ExternalReference", reference)
    for description in descriptions:
        if description:
            add_element(parent, "Description", description)


def _coded(parent: Any, name: str, code: str, other: str = "") -> None:
    """An enumerated code; "Other" names its actual value in the OtherValue attribute."""
    element = add_element(parent, name, code)
    if other:
        element.set("OtherValue", other)


def _data_value(
    parent: Any, name: str, text: str, data_type: str, unit: str = "", key: str = ""
) -> None:
    """A B2MML ValueType (unlike a recipe's BatchValueType, it has no DataInterpretation)."""
    value = add_element(parent, name)
    add_element(value, "ValueString", text)
    add_element(value, "DataType", data_type)
    if unit:
        add_element(value, "UnitOfMeasure", unit)
    if key:
        add_element(value, "Key", key)


def _quantity(parent: Any, name: str, quantity: Quantity, key: str = "") -> None:
    _data_value(parent, name, xml_decimal(quantity.value), "decimal", quantity.unit, key)


def _user_attribute(parent: Any, attribute_id: str, text: str, data_type: str,
                    key: str = "") -> None:
    attribute = add_element(parent, "UserAttribute")
    add_element(attribute, "AttributeID", attribute_id)
    _data_value(attribute, "Value", text, data_type, key=key)


def _container(record: Any, name: str, children: Iterable[Any]) -> None:
    """Appends name holding children, or nothing when there are none."""
    children = list(children)
    if children:
        add_element(record, name).extend(children)


# --- record sections, in schema order -----------------------------------------------------

def _change_history(record: Any, recorded: list[StepExecution]) -> None:
    """Each correction of a value: what it was before (PrechangeData) and why."""
    changes = []
    for step in recorded:
        for value in step.parameter_values:
            for number, correction in enumerate(value.corrections, 1):
                change = etree.Element(v.qualified("Change"))
                previous, corrected = correction.previous, correction.corrected
                _entry(
                    change, _correction_entry(step.step_id, value.name, number), "Change",
                    correction.signature.sign_time,
                    f"{value.name} of step {step.step_id} corrected from {previous} to "
                    f"{corrected}",
                )
                add_element(change, "RecordReference", _value_entry(step.step_id, value.name))
                _quantity(change, "PrechangeData", previous, key=value.name)
                add_element(change, "Reason", correction.signature.reason)
                changes.append(change)
    _container(record, "ChangeHistory", changes)


def _correction_entry(step_id: str, parameter: str, number: int) -> str:
    return f"correction/{step_id}/{number}/{parameter}"


def _comment_entry(step_id: str) -> str:
    return f"comment/{step_id}"


def _comments(record: Any, recorded: list[StepExecution]) -> None:
    comments = []
    for step in recorded:
        if not step.comment:
            continue
        comment = etree.Element(v.qualified("Comment"))
        _entry(comment, _comment_entry(step.step_id), "Comment", step.record_time)
        add_element(comment, "RecordReference", _step_entry(step.step_id))
        add_element(comment, "CommentText", step.comment)
        if step.executed is not None:
            add_element(comment, "PersonID", step.executed.signer)
        comments.append(comment)
    _container(record, "Comments", comments)


def _control_recipe(record: Any, batch: Batch, procedure: list[Any]) -> None:
    """The frozen copy of the master recipe the batch followed, with its procedure."""
    entry = etree.Element(v.qualified("ControlRecipeRecord"))
    _entry(entry, "control-recipe", "Control Recipe", batch.create_time)
    recipe = add_element(entry, "ControlRecipe")
    add_element(recipe, "ID", batch.batch_id)
    add_element(recipe, "Version", str(batch.recipe.version))
    add_element(recipe, "VersionDate", xml_datetime(batch.create_time))
    add_element(recipe, "Description", batch.recipe.content.title)
    add_element(recipe, "BatchID", batch.batch_id)
    header = add_element(recipe, "Header")
    log = add_element(header, "ModificationLog")
    add_element(log, "ModifiedDate", xml_datetime(batch.create_time))
    add_element(log, "Author", batch.created_by)
    add_element(header, "ProductID", batch.recipe.content.product)
    if batch.planned_quantity is not None:
        size = add_element(header, "BatchSize")
        add_element(size, "Nominal", xml_decimal(batch.planned_quantity.value))
        add_element(size, "UnitOfMeasure", batch.planned_quantity.unit)
    recipe.extend(procedure)
    _container(record, "ControlRecipes", [entry])


def _events(record: Any, batch: Batch, recorded: list[StepExecution]) -> None:
    names = {step.id: step.name for step in recipe_steps(batch.recipe)}
    events = []
    for step in recorded:
        events.append(_step_event(step, names[step.step_id]))
        events += [_value_event(step, value) for value in step.parameter_values]
    events += [_exception_event(exception) for exception in batch.exceptions]
    events += [_deviation_event(deviation) for deviation in batch.deviations]
    _container(record, "Events", events)


def _event(entry_id: str, time: datetime | None, description: str, event_type: str,
           subtype: str, *, other_subtype: str = "", other_type: str = "") -> Any:
    event = etree.Element(v.qualified("Event"))
    _entry(event, entry_id, "Event", time, description)
    _coded(event, "EventType", event_type, other_type)
    _coded(event, "EventSubType", subtype, other_subtype)
    return event


def _step_event(step: StepExecution, name: str) -> Any:
    event = _event(_step_entry(step.step_id), step.perform_time, name,
                   "Procedural Execution", "State Change")
    for use in step.equipment:
        add_element(event, "EquipmentID", use.equipment_id)
    _data_value(event, "Value", step.status.value, "Code", key="StepStatus")
    if step.executed is not None:
        add_element(event, "PersonID", step.executed.signer)
    add_element(event, "ProceduralElementReference", step.step_id)
    if step.record_time is not None:
        _user_attribute(event, "RecordTime", xml_datetime(step.record_time), "dateTime")
    for use in step.equipment:
        _user_attribute(event, "EquipmentStatus", use.status_at_use, "Code", use.equipment_id)
        if use.override_reason:
            _user_attribute(event, "OverrideReason", use.override_reason, "string",
                            use.equipment_id)
    return event


def _value_event(step: StepExecution, value: ParameterValue) -> Any:
    """The value as it stands; each correction's earlier value is in ChangeHistory."""
    event = _event(_value_entry(step.step_id, value.name), step.perform_time, value.name,
                   "Procedural Execution", "Parameter Data")
    _quantity(event, "Value", value.value, key=value.name)
    if step.executed is not None:
        add_element(event, "PersonID", step.executed.signer)
    add_element(event, "ProceduralElementReference", step.step_id)
    add_element(event, "AssociatedEventID", _step_entry(step.step_id))
    return event


def _exception_event(exception: BatchException) -> Any:
    subtype = EXCEPTION_SUBTYPES.get(exception.kind, "Other")
    event = _event(
        _exception_entry(exception.id), exception.raise_time, exception.id, "Alarm", subtype,
        other_subtype=exception.kind.value if subtype == "Other" else "",
    )
    add_element(event, "MessageText", exception.description)
    add_element(event, "ProceduralElementReference", exception.step_id)
    alarm = add_element(event, "AlarmData")
    add_element(alarm, "AlarmEvent", "Raised" if exception.is_open else "Dispositioned")
    add_element(alarm, "AlarmType", exception.kind.value)
    add_element(alarm, "Priority", exception.severity.value)
    add_element(event, "AssociatedEventID", _step_entry(exception.step_id))
    return event


def _deviation_event(deviation: Deviation) -> Any:
    event = _event(
        _deviation_entry(deviation.id), deviation.raise_time, deviation.title, "Other", "Other",
        other_type="Deviation", other_subtype=deviation.state.value,
    )
    if deviation.description:
        add_element(event, "MessageText", deviation.description)
    add_element(event, "PersonID", deviation.raised_by)
    add_element(event, "Category", deviation.classification.value)
    for exception_id in deviation.exception_ids:
        add_element(event, "AssociatedEventID", _exception_entry(exception_id))
    if deviation.investigation:
        _user_attribute(event, "Investigation", deviation.investigation, "string")
    if deviation.capa_reference:
        _user_attribute(event, "CAPAReference", deviation.capa_reference, "string")
    return event


def _master_recipe(record: Any, batch: Batch, master: Any) -> None:
    """The master recipe version by reference: its identity, approvals and state (the
    procedure has moved to the control recipe)."""
    entry = etree.Element(v.qualified("MasterRecipeRecord"))
    _entry(entry, "master-recipe", "Master Recipe", batch.recipe.update_time,
           reference=batch.recipe.name)
    entry.append(master)
    _container(record, "MasterRecipes", [entry])


def _signatures(batch: Batch) -> list[Signed]:
    """Every signature in the record with the entry it signs, in record order."""
    signed: list[Signed] = []
    for step in batch.steps:
        entry = _step_entry(step.step_id)
        for signature in (step.executed, step.verified):
            if signature is not None:
                signed.append((entry, f"step {step.step_id}", signature))
        for value in step.parameter_values:
            for number, correction in enumerate(value.corrections, 1):
                signed.append((
                    _correction_entry(step.step_id, value.name, number),
                    f"correction of {value.name} in step {step.step_id}", correction.signature,
                ))
    for exception in batch.exceptions:
        if exception.disposition is not None:
            signed.append((_exception_entry(exception.id), f"disposition of {exception.id}",
                           exception.disposition))
    for deviation in batch.deviations:
        if deviation.closure is not None:
            signed.append((_deviation_entry(deviation.id), f"closure of {deviation.id}",
                           deviation.closure))
    signed += [(batch.batch_id, f"batch {batch.batch_id}", s) for s in batch.signatures]
    return signed


def _personnel_identification(record: Any, signed: list[Signed]) -> None:
    """One manifest per e-signature: who (printed name, then user id), meaning, time, reason."""
    manifests = []
    for number, (reference, what, signature) in enumerate(signed, 1):
        manifest = etree.Element(v.qualified("PersonnelIdentificationManifest"))
        role = f" as {signature.role}" if signature.role else ""
        _entry(manifest, f"signature-{number}", "Personnel Identification Manifest",
               signature.sign_time, f"{signature.meaning.value}: {what}{role}")
        add_element(manifest, "RecordReference", reference)
        add_element(manifest, "Name", signature.printed_name)
        add_element(manifest, "Name", signature.signer)
        add_element(manifest, "ChangeIndication", signature.meaning.value)
        if signature.reason:
            add_element(manifest, "Reason", signature.reason)
        manifests.append(manifest)
    _container(record, "PersonnelIdentification", manifests)


def _operations_performance(record: Any, batch: Batch, recorded: list[StepExecution]) -> None:
    """ISA-95 actuals of each recorded step: the material lots consumed, the equipment used."""
    entry = etree.Element(v.qualified("OperationsPerformanceRecord"))
    _entry(entry, "operations-performance", "Other", batch.update_time,
           other_type="Operations Performance")
    performance = add_element(entry, "OperationsPerformance")
    add_element(performance, "ID", batch.batch_id)
    times = [step.perform_time for step in recorded if step.perform_time is not None]
    if times:
        add_element(performance, "StartTime", xml_datetime(min(times)))
    scope = add_element(performance, "HierarchyScope")
    add_element(scope, "EquipmentID", batch.home_site)
    add_element(scope, "EquipmentElementLevel", "Site")
    add_element(performance, "OperationsType", "Production")
    response = add_element(performance, "OperationsResponse")
    add_element(response, "ID", batch.batch_id)
    add_element(response, "OperationsType", "Production")
    add_element(response, "OperationsDefinitionID", batch.recipe.name)
    add_element(response, "ResponseState", RESPONSE_STATES[batch.state])
    names = {step.id: step.name for step in recipe_steps(batch.recipe)}
    for step in recorded:
        _segment_response(response, step, names[step.step_id])
    _container(record, "OperationsPerformances", [entry])


def _segment_response(response: Any, step: StepExecution, name: str) -> None:
    segment = add_element(response, "SegmentResponse")
    add_element(segment, "ID", step.step_id)
    add_element(segment, "Description", name)
    if step.perform_time is not None:
        add_element(segment, "ActualStartTime", xml_datetime(step.perform_time))
    if step.status == StepStatus.COMPLETE:
        add_element(segment, "SegmentState", "Completed")
    else:
        _coded(segment, "SegmentState", "Other", "Awaiting verification")
    for number, use in enumerate(step.equipment, 1):
        equipment = add_element(segment, "EquipmentActual")
        add_element(equipment, "ID", f"{step.step_id}-E{number}")
        add_element(equipment, "EquipmentID", use.equipment_id)
        add_element(equipment, "EquipmentUse", "Used")
        _equipment_property(equipment, "StatusAtUse", use.status_at_use, "Code")
        if use.override_reason:
            _equipment_property(equipment, "OverrideReason", use.override_reason, "string")
    for number, addition in enumerate(step.materials, 1):
        material = add_element(segment, "MaterialActual")
        add_element(material, "ID", f"{step.step_id}-M{number}")
        add_element(material, "MaterialDefinitionID", addition.material)
        add_element(material, "MaterialLotID", addition.lot_id)
        add_element(material, "MaterialUse", "Consumed")
        quantity = add_element(material, "Quantity")
        add_element(quantity, "QuantityString", xml_decimal(addition.quantity.value))
        add_element(quantity, "DataType", "decimal")
        add_element(quantity, "UnitOfMeasure", addition.quantity.unit)


def _equipment_property(equipment: Any, property_id: str, text: str, data_type: str) -> None:
    prop = add_element(equipment, "EquipmentActualProperty")
    add_element(prop, "ID", property_id)
    _data_value(prop, "Value", text, data_type)
