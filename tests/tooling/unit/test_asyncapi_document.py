"""docs/asyncapi.json is a valid AsyncAPI 3.0 document (the official JSON schema, from npm's
@asyncapi/specs in node_modules, never fetched), its references resolve, and it describes each
payload's protobuf message and every field of it."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from jsonschema import Draft7Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7
from twinline.events.v1 import site_events_pb2

from services.devstack.event_catalog import ASYNCAPI_FILE, CATALOG, payload_fields, proto_comments
from services.devstack.processes import PROJECT_ROOT

SCHEMA_FILE = PROJECT_ROOT / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0.json"


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    """The AsyncAPI 3.0 schema; its definitions (each with its own $id) are in the same file, so
    the registry holds only that file's resources and retrieves nothing: an unknown $ref fails."""
    schema = json.loads(SCHEMA_FILE.read_text())
    registry: Registry[Any] = Registry().with_resource(
        schema["$id"], DRAFT7.create_resource(schema)
    ).crawl()
    return Draft7Validator(schema, registry=registry)


@pytest.fixture
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(ASYNCAPI_FILE.read_text())
    return loaded


def errors(validator: Draft7Validator, document: dict[str, Any]) -> list[str]:
    return [error.message for error in validator.iter_errors(document)]


def unresolved_references(document: dict[str, Any]) -> list[str]:
    """Every ``$ref`` inside the document ("#/...") that names nothing in it."""
    unresolved = []

    def resolves(pointer: str) -> bool:
        node: Any = document
        for part in pointer.removeprefix("#/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/"):
                if not resolves(reference):
                    unresolved.append(reference)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    return unresolved


def test_the_document_validates_against_the_asyncapi_3_schema(
    validator: Draft7Validator, document: dict[str, Any]
) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert errors(validator, document) == []
    assert unresolved_references(document) == []


def test_a_document_that_claims_another_version_fails(
    validator: Draft7Validator, document: dict[str, Any]
) -> None:
    document["asyncapi"] = "2.0.0"
    assert errors(validator, document) == ["'3.0.0' was expected"]


def test_a_channel_message_that_is_neither_a_message_nor_a_reference_fails(
    validator: Draft7Validator, document: dict[str, Any]
) -> None:
    broken = copy.deepcopy(document)
    channel = broken["channels"]["master_batch_record.created"]
    channel["messages"]["MasterBatchRecordCreated"] = {"$ref": 7}
    assert errors(validator, broken)
    # An operation needs a channel and an action of "send" or "receive".
    broken = copy.deepcopy(document)
    broken["operations"]["publish_created_master_batch_record"]["action"] = "publish"
    assert errors(validator, broken)


def test_a_reference_to_a_message_that_is_not_there_is_found(document: dict[str, Any]) -> None:
    channel = document["channels"]["master_batch_record.created"]
    channel["messages"]["MasterBatchRecordCreated"] = {"$ref": "#/components/messages/Nothing"}
    assert unresolved_references(document) == ["#/components/messages/Nothing"]


def test_every_event_of_every_context_has_a_channel(document: dict[str, Any]) -> None:
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {spec.subject() for spec in CATALOG}
    contexts = {address.split(".")[2] for address in addresses}
    assert contexts == {"batchrecords", "conjugation", "release_testing", "siteview",
                        "tech_transfer"}


def test_each_message_names_its_protobuf_message_and_describes_every_field(
    document: dict[str, Any],
) -> None:
    messages = document["components"]["messages"]
    for spec in CATALOG:
        message = messages[spec.payload.name]
        assert message["x-protobuf"]["message"] == spec.payload.full_name
        assert message["x-protobuf"]["file"] == f"protos/{spec.payload.file.name}"
        fields = message["x-protobuf"]["fields"]
        assert [field["name"] for field in fields] == [f.name for f in spec.payload.fields]
        for field in fields:
            assert field["description"], f"{spec.payload.full_name}.{field['name']}: no comment"
            assert f"- `{field['name']}` = {field['number']} " in message["description"]
        assert f"`{spec.payload.full_name}`" in message["description"]


def test_a_field_is_described_by_its_comment_in_the_proto_or_else_by_its_type() -> None:
    heartbeat = site_events_pb2.SiteHeartbeat.DESCRIPTOR
    fields = {field.name: field for field in payload_fields(heartbeat)}
    assert fields["last_sequence"].type == "uint64"
    assert fields["last_sequence"].description == (
        "The origin stream's last sequence when the heartbeat was sent: its high-water mark."
    )
    assert fields["interval"].type == "google.protobuf.Duration"
    created = next(spec for spec in CATALOG if spec.payload.name == "MasterBatchRecordCreated")
    (record,) = payload_fields(created.payload)
    # No comment on the field: its message's comment stands in.
    assert proto_comments()["twinline.events.v1.MasterBatchRecordCreated.master_batch_record"] == ""
    assert record.description == proto_comments()["twinline.batchrecords.v1.MasterBatchRecord"]
    assert record.description.startswith("A version of a master batch record")
