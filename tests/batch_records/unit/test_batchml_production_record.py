"""BatchML batch production records: an executed batch exports as a document that validates
against the MESA V0701 schema and keeps lots, corrected and original values, and signatures."""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import xmlschema
from lxml import etree

from services.batch_records.batches import domain as bd
from services.batch_records.batches.domain import MaterialAddition, Quantity, Severity, StepRecord
from services.batch_records.batchml.production_record import (
    SCHEMA_FILE,
    export_batch_production_record,
)
from services.batch_records.batchml.vocabulary import B2MML
from services.batch_records.master.domain import (
    MasterBatchRecord,
    MbrState,
    Operation,
    ProcessParameter,
    RecipeContent,
    Step,
    StepKind,
    UnitProcedure,
)
from services.common.domain.signatures import SignatureMeaning, SignatureRecord

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
NS = {"b": B2MML}
EQUIPMENT = {"R-201": "CLEAN", "P-7": "DIRTY"}


@functools.cache
def schemas() -> tuple[xmlschema.XMLSchema, etree.XMLSchema]:
    """The production record schema, loaded once, by xmlschema and by libxml2."""
    return (
        xmlschema.XMLSchema(str(SCHEMA_FILE), allow="sandbox"),
        etree.XMLSchema(etree.parse(str(SCHEMA_FILE))),
    )


def assert_valid(document: bytes) -> etree._Element:
    by_xmlschema, by_libxml2 = schemas()
    by_xmlschema.validate(xmlschema.XMLResource(document))
    root = etree.fromstring(document)
    assert by_libxml2.validate(root), by_libxml2.error_log
    return root


def sig(who: str, meaning: SignatureMeaning, minutes: int, reason: str = "",
        role: str = "operator") -> SignatureRecord:
    return SignatureRecord(who, who.title() + " Printed", meaning, at(minutes), reason, role)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def recipe() -> MasterBatchRecord:
    temperature = ProcessParameter(
        name="temperature", unit="Cel", target=Decimal(25), low_limit=Decimal(20),
        high_limit=Decimal(30), critical=True,
    )
    ph = ProcessParameter(name="pH", unit="[pH]", low_limit=Decimal("6.5"),
                          high_limit=Decimal("7.5"))
    steps = (
        Step("S1", "Charge", "Charge antibody", StepKind.MATERIAL_ADDITION),
        Step("S2", "Reduce", "Hold 90 min", StepKind.PROCESS_PARAMETER, (temperature, ph),
             requires_verification=True),
        Step("S3", "Quench", "Quench", StepKind.INSTRUCTION, requires_verification=True),
    )
    content = RecipeContent("TWX-101", "conjugation", "TWX-101 conjugation", (
        UnitProcedure("UP1", "Conjugation", (Operation("OP1", "Reduction", steps),)),
    ))
    approved = sig("quinn", SignatureMeaning.APPROVED, -60, "approved for GMP use", "qa")
    return MasterBatchRecord("SYR-MBR-000001", 3, "syracuse", content, MbrState.EFFECTIVE,
                             "alice", T0, T0, signatures=(approved,), effective_time=T0)


def created() -> bd.Batch:
    return bd.create_batch(
        batch_id="SYR-B-2026-00007", recipe=recipe(), site="syracuse", created_by="sam",
        now=T0, planned_quantity=Quantity(Decimal(200), "L"),
    )


def executed() -> bd.Batch:
    """A batch through its whole life: an excursion, a correction, a deviation, approval."""
    batch = created()
    antibody = MaterialAddition("mAb TWX", "L-MAB-0113", Quantity(Decimal("5.2"), "kg"))
    charge = StepRecord(
        "S1", materials=(antibody,),
        equipment=(("R-201", ""),), comment="charged through the 0.2 um filter",
        perform_time=at(5),
    )
    batch, _ = bd.record_steps(batch, [charge], signature=sig("olga", SignatureMeaning.EXECUTED, 6),
                               equipment_status=EQUIPMENT, now=at(6))
    reduce = StepRecord("S2", parameter_values=(
        ("temperature", Quantity(Decimal("31.5"), "Cel")), ("pH", Quantity(Decimal("7.0"), "[pH]")),
    ), perform_time=at(20))
    batch, [excursion] = bd.record_steps(
        batch, [reduce], signature=sig("olga", SignatureMeaning.EXECUTED, 21),
        equipment_status=EQUIPMENT, now=at(21),
    )
    assert excursion.severity is Severity.MAJOR and batch.state is bd.BatchState.ON_HOLD
    batch, _ = bd.correct_value(
        batch, "S2", "temperature", Quantity(Decimal("25.1"), "Cel"),
        signature=sig("olga", SignatureMeaning.AUTHORED, 30, "transcription error"), now=at(30),
    )
    batch = bd.disposition_exception(
        batch, excursion.id,
        signature=sig("sue", SignatureMeaning.REVIEWED, 35, "probe drift; product unaffected",
                      "qa"),  # a major exception: QA decides
        now=at(35),
    )
    batch = bd.verify_step(batch, "S2", signature=sig("vic", SignatureMeaning.VERIFIED, 40),
                           now=at(40))
    batch, _ = bd.record_steps(batch, [StepRecord("S3")],
                               signature=sig("olga", SignatureMeaning.EXECUTED, 50),
                               equipment_status=EQUIPMENT, now=at(50))
    batch, deviation = bd.raise_deviation(
        batch, classification=Severity.MINOR, title="Temperature probe drift",
        description="R-201 probe read 6 K high", exception_ids=[excursion.id],
        raised_by="sue", now=at(55),
    )
    batch = bd.update_deviation(batch, deviation.id, investigation="probe recalibrated",
                                capa_reference="CAPA-2026-014", now=at(56))
    batch = bd.close_deviation(batch, deviation.id,
                               signature=sig("quinn", SignatureMeaning.APPROVED, 57, "", "qa"),
                               now=at(57))
    batch, [unverified] = bd.complete(
        batch, signature=sig("sue", SignatureMeaning.EXECUTED, 60, "all steps done", "supervisor"),
        now=at(60),
    )
    batch = bd.disposition_exception(
        batch, unverified.id,
        signature=sig("sue", SignatureMeaning.REVIEWED, 61, "second person present", "supervisor"),
        now=at(61),
    )
    batch = bd.submit_for_review(batch, now=at(62))
    return bd.approve(batch, signature=sig("quinn", SignatureMeaning.APPROVED, 70,
                                           "released to QC", "qa"), now=at(70))


@pytest.fixture(scope="module")
def record() -> etree._Element:
    return assert_valid(export_batch_production_record(executed()))


def texts(element: etree._Element, path: str) -> list[str]:
    return [found.text or "" for found in element.findall(path, NS)]


def entry(record: etree._Element, path: str, entry_id: str) -> etree._Element:
    [found] = [e for e in record.findall(path, NS) if e.findtext("b:EntryID", None, NS) == entry_id]
    return found


def test_an_approved_batch_validates_and_names_batch_site_state_and_recipes(
    record: etree._Element,
) -> None:
    assert record.tag == f"{{{B2MML}}}BatchProductionRecord"
    assert texts(record, "b:ID") == texts(record, "b:BatchID") == ["SYR-B-2026-00007"]
    assert texts(record, "b:ExternalReference") == ["batches/SYR-B-2026-00007"]
    assert texts(record, "b:EquipmentScope") == ["syracuse"]
    assert texts(record, "b:RecordStatus") == ["approved"]
    assert texts(record, "b:MaterialDefinitionID") == ["TWX-101"]
    master = record.find("b:MasterRecipes/b:MasterRecipeRecord", NS)
    assert master is not None
    assert texts(master, "b:ExternalReference") == ["masterBatchRecords/SYR-MBR-000001/versions/3"]
    assert texts(master, "b:MasterRecipe/b:Version") == ["3"]
    assert master.find("b:MasterRecipe/b:RecipeElement", NS) is None  # in the control recipe
    control = record.find("b:ControlRecipes/b:ControlRecipeRecord/b:ControlRecipe", NS)
    assert control is not None
    assert texts(control, "b:BatchID") == ["SYR-B-2026-00007"]
    assert texts(control, "b:Header/b:BatchSize/b:Nominal") == ["200"]
    phases = control.findall(".//b:RecipeElement[b:RecipeElementType='Phase']", NS)
    assert [texts(p, "b:ID")[0] for p in phases] == ["S1", "S2", "S3"]


def test_materials_carry_their_lots_and_quantities(record: etree._Element) -> None:
    [material] = record.findall(".//b:SegmentResponse/b:MaterialActual", NS)
    assert texts(material, "b:MaterialLotID") == ["L-MAB-0113"]
    assert texts(material, "b:MaterialDefinitionID") == ["mAb TWX"]
    assert texts(material, "b:Quantity/b:QuantityString") == ["5.2"]
    assert texts(material, "b:Quantity/b:UnitOfMeasure") == ["kg"]
    [equipment] = record.findall(".//b:SegmentResponse/b:EquipmentActual", NS)
    assert texts(equipment, "b:EquipmentID") == ["R-201"]


def test_a_corrected_value_stands_and_the_original_is_kept_with_its_reason(
    record: etree._Element,
) -> None:
    value = entry(record, "b:Events/b:Event", "step/S2/temperature")
    assert texts(value, "b:Value/b:ValueString") == ["25.1"]
    assert texts(value, "b:Value/b:UnitOfMeasure") == ["Cel"]
    assert texts(value, "b:TimeStamp") == ["2026-11-25T08:20:00Z"]
    [change] = record.findall("b:ChangeHistory/b:Change", NS)
    assert texts(change, "b:RecordReference") == ["step/S2/temperature"]
    assert texts(change, "b:PrechangeData/b:ValueString") == ["31.5"]
    assert texts(change, "b:Reason") == ["transcription error"]
    [signed] = [
        m for m in record.findall("b:PersonnelIdentification/b:PersonnelIdentificationManifest", NS)
        if texts(m, "b:RecordReference") == texts(change, "b:EntryID")
    ]
    assert texts(signed, "b:Name") == ["Olga Printed", "olga"]
    assert texts(signed, "b:TimeStamp") == ["2026-11-25T08:30:00Z"]


def test_every_signature_names_signer_meaning_time_and_what_it_signs(
    record: etree._Element,
) -> None:
    manifests = record.findall("b:PersonnelIdentification/b:PersonnelIdentificationManifest", NS)
    signed = [
        (texts(m, "b:RecordReference")[0], texts(m, "b:Name")[1], texts(m, "b:ChangeIndication")[0])
        for m in manifests
    ]
    assert signed == [
        ("step/S1", "olga", "executed"),
        ("step/S2", "olga", "executed"),
        ("step/S2", "vic", "verified"),
        ("correction/S2/1/temperature", "olga", "authored"),
        ("step/S3", "olga", "executed"),
        ("exception/EX-1", "sue", "reviewed"),
        ("exception/EX-2", "sue", "reviewed"),
        ("deviation/DEV-1", "quinn", "approved"),
        ("SYR-B-2026-00007", "sue", "executed"),
        ("SYR-B-2026-00007", "quinn", "approved"),
    ]
    approval = manifests[-1]
    assert texts(approval, "b:TimeStamp") == ["2026-11-25T09:10:00Z"]
    assert texts(approval, "b:Name")[0] == "Quinn Printed"
    assert texts(approval, "b:Reason") == ["released to QC"]


def test_exceptions_and_deviations_are_events_linked_to_what_they_concern(
    record: etree._Element,
) -> None:
    excursion = entry(record, "b:Events/b:Event", "exception/EX-1")
    assert texts(excursion, "b:EventType") == ["Alarm"]
    assert texts(excursion, "b:AlarmData/b:AlarmType") == ["out_of_limits"]
    assert texts(excursion, "b:AlarmData/b:Priority") == ["major"]
    assert texts(excursion, "b:AssociatedEventID") == ["step/S2"]
    deviation = entry(record, "b:Events/b:Event", "deviation/DEV-1")
    assert texts(deviation, "b:Category") == ["minor"]
    assert texts(deviation, "b:AssociatedEventID") == ["exception/EX-1"]
    assert texts(deviation, "b:UserAttribute/b:Value/b:ValueString") == [
        "probe recalibrated", "CAPA-2026-014",
    ]
    [comment] = record.findall("b:Comments/b:Comment", NS)
    assert texts(comment, "b:RecordReference") == ["step/S1"]
    assert texts(comment, "b:CommentText") == ["charged through the 0.2 um filter"]


def test_a_batch_not_yet_started_validates_too() -> None:
    root = assert_valid(export_batch_production_record(created()))
    assert texts(root, "b:RecordStatus") == ["created"]
    assert root.find("b:Events", NS) is None and root.find("b:OperationsPerformances", NS) is None


def test_entry_ids_are_unique_whatever_the_parameters_are_named() -> None:
    named = (
        ProcessParameter(name="comment", unit="Cel"),
        ProcessParameter(name="x", unit="Cel"),
        ProcessParameter(name="x/correction-1", unit="Cel"),
    )
    master = recipe()
    steps = (Step("S1", "Hold", "Hold", StepKind.PROCESS_PARAMETER, named),)
    content = replace(master.content, unit_procedures=(
        UnitProcedure("UP1", "Conjugation", (Operation("OP1", "Hold", steps),)),
    ))
    batch = bd.create_batch(
        batch_id="SYR-B-2026-00008", recipe=replace(master, content=content), site="syracuse",
        created_by="sam", now=T0, planned_quantity=Quantity(Decimal(200), "L"),
    )
    values = tuple((p.name, Quantity(Decimal(25), "Cel")) for p in named)
    batch, _ = bd.record_steps(
        batch, [StepRecord("S1", parameter_values=values, comment="held", perform_time=at(5))],
        signature=sig("olga", SignatureMeaning.EXECUTED, 6), equipment_status=EQUIPMENT,
        now=at(6),
    )
    batch, _ = bd.correct_value(
        batch, "S1", "x", Quantity(Decimal(26), "Cel"),
        signature=sig("olga", SignatureMeaning.AUTHORED, 7, "transcription error"), now=at(7),
    )

    document = assert_valid(export_batch_production_record(batch))

    ids = [found.text for found in document.iter(f"{{{B2MML}}}EntryID")]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert {"comment/S1", "step/S1/comment", "correction/S1/1/x", "step/S1/x/correction-1"} <= (
        set(ids)
    )
