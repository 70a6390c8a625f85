"""A batch production record over gRPC: an executed, corrected and approved batch exports as a
BatchML document that validates against the MESA V0701 schema."""

from __future__ import annotations

import grpc
import pytest
import xmlschema
from lxml import etree
from twinline.batchrecords.v1 import batch_service_pb2 as api

from services.batch_records.batchml.production_record import SCHEMA_FILE
from services.batch_records.batchml.vocabulary import B2MML
from services.common.grpc.status import details_of
from services.devstack.topology import BATCH_RECORDS
from tests.support import batches
from tests.support.batches import q, s1, s2, stub
from tests.support.mbr import request_id, sign, take_to_effective
from tests.support.stack import Stack, stack_fixture

# Only batch_records runs at each site: nothing here reads a site view.
batch_records_only = stack_fixture(services=[BATCH_RECORDS.name])

NS = {"b": B2MML}


async def test_an_approved_batch_exports_as_a_valid_production_record(stack: Stack) -> None:
    author = await stack.login("syracuse", "author")
    supervisor = await stack.login("syracuse", "reviewer")
    qa = await stack.login("syracuse", "qa")
    operator = await stack.login("syracuse", "operator")
    await batches.set_equipment(supervisor, "R-201", "CLEAN")
    master = await take_to_effective(author, supervisor, qa)
    batch = await batches.create_batch(await stack.login("syracuse", "mes"), master.name)
    await batches.record(operator, batch, s1())
    await batches.verify(await stack.login("syracuse", "verifier"), batch, "S1")
    await stub(operator).CorrectParameterValue(
        api.CorrectParameterValueRequest(
            request_id=request_id(), batch=batch.name, step_id="S1", parameter="TCEP",
            corrected_value=q("2.4", "mol/mol"), signature=sign("operator", "transcription error"),
        ),
        metadata=operator.metadata,
    )
    await batches.record(operator, batch, s2())
    await batches.complete_and_submit(supervisor, batch)
    await batches.approve(qa, batch)

    exported = await stub(operator).ExportBatchProductionRecord(
        api.ExportBatchProductionRecordRequest(batch=batch.name), metadata=operator.metadata
    )

    assert exported.content_type == "application/xml"
    xmlschema.XMLSchema(str(SCHEMA_FILE), allow="sandbox").validate(
        xmlschema.XMLResource(exported.document)
    )
    record = etree.fromstring(exported.document)
    assert record.findtext("b:BatchID", None, NS) == batch.batch_id
    assert record.findtext("b:RecordStatus", None, NS) == "approved"
    assert record.findtext("b:EquipmentScope", None, NS) == "syracuse"
    assert [e.text for e in record.iterfind(".//b:MaterialLotID", NS)] == [
        "L-TCEP-0113", "L-DL-0042",
    ]
    events = {e.findtext("b:EntryID", None, NS): e for e in record.iterfind(".//b:Event", NS)}
    assert events["step/S1/TCEP"].findtext("b:Value/b:ValueString", None, NS) == "2.4"
    change = record.find("b:ChangeHistory/b:Change", NS)
    assert change is not None
    assert change.findtext("b:PrechangeData/b:ValueString", None, NS) == "2.5"
    assert change.findtext("b:Reason", None, NS) == "transcription error"
    signed = [
        (m.findtext("b:RecordReference", None, NS), m.findall("b:Name", NS)[1].text,
         m.findtext("b:ChangeIndication", None, NS))
        for m in record.iterfind(".//b:PersonnelIdentificationManifest", NS)
    ]
    assert ("step/S1", "syracuse.verifier", "verified") in signed
    assert signed[-1] == (batch.batch_id, "syracuse.qa", "approved")

    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub(qa).ExportBatchProductionRecord(
            api.ExportBatchProductionRecordRequest(batch="batches/SYR-B-2026-99999"),
            metadata=qa.metadata,
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as malformed:
        await stub(qa).ExportBatchProductionRecord(
            api.ExportBatchProductionRecordRequest(batch="SYR-B-2026-00001"), metadata=qa.metadata
        )
    assert details_of(malformed.value)["fields"] == ["batch"]
