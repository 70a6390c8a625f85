"""Transfer packages over gRPC, for the tech-transfer tests."""

from __future__ import annotations

from twinline.batchrecords.v1 import master_batch_record_pb2 as mbr_pb
from twinline.techtransfer.v1 import tech_transfer_service_pb2 as api
from twinline.techtransfer.v1 import transfer_pb2 as pb
from twinline.techtransfer.v1.tech_transfer_service_pb2_grpc import TechTransferServiceStub

from services.client.session import Session


def stub(session: Session) -> TechTransferServiceStub:
    return session.stub(TechTransferServiceStub)


def content(master: str, receiving_site: str, notes: str = "first transfer") -> pb.TransferPackage:
    return pb.TransferPackage(
        receiving_site=receiving_site,
        master_batch_record=mbr_pb.MasterBatchRecord(name=master),
        specifications=["specifications/SYR-SP-000001/versions/1"],
        method_ids=["HIC-001", "SEC-002"],
        proven_ranges=[pb.ProvenRange(parameter="temperature", unit="Cel", low="18", high="32")],
        material_attributes=[pb.MaterialAttribute(
            material="DMSO", attribute="grade", requirement="anhydrous, ≥ 99.9 %")],
        gaps=[pb.GapItem(gap_id="G1", description="Songdo's UF/DF skid is 20 % smaller",
                         risk="medium", closed_by="monomer")],
        comparability=[pb.ComparabilityCriterion(attribute="average DAR", margin="0.2",
                                                 batches=3)],
        notes=notes,
    )


async def get(session: Session, name: str) -> pb.TransferPackage:
    answer = await stub(session).GetTransferPackage(api.GetTransferPackageRequest(name=name),
                                                    metadata=session.metadata)
    return answer.package
