"""BatchML master recipes: export validates against the MESA schema, import keeps the structure,
and a bad document is refused naming its line."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import xmlschema
from lxml import etree

from services.batch_records.batchml import (
    export_master_recipe,
    import_master_recipe,
    read_master_recipe,
)
from services.batch_records.batchml.schema import SCHEMA_FILE
from services.batch_records.batchml.vocabulary import B2MML, WBF_BATCHML
from services.batch_records.master import domain
from services.batch_records.master.domain import (
    MasterBatchRecord,
    Operation,
    ProcessParameter,
    RecipeContent,
    Step,
    StepKind,
    UnitProcedure,
)
from services.common.domain.errors import InvalidArgument
from services.common.domain.signatures import SignatureMeaning, SignatureRecord
from tests.support.batchml_documents import parallel_recipe

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
NS = {"b": B2MML}


def conjugation() -> RecipeContent:
    temperature = ProcessParameter(
        name="temperature", unit="Cel", target=Decimal("25.0"), low_limit=Decimal("20"),
        high_limit=Decimal("30"), critical=True, alert_low=Decimal("22"),
        alert_high=Decimal("28"),
    )
    return RecipeContent(
        product="TWX-101", process="cysteine conjugation, 200 L", title="TWX-101 conjugation",
        unit_procedures=(
            UnitProcedure("UP1", "Conjugation", (
                Operation("OP1", "Partial reduction", (
                    Step("S1", "Add TCEP", "Add 2.5 molar eq. TCEP; hold 90 min.",
                         StepKind.PROCESS_PARAMETER,
                         (temperature, ProcessParameter(name="pH", unit="[pH]")),
                         requires_verification=True),
                    Step("S2", "Check bag", "Inspect the bag for leaks.",
                         StepKind.EQUIPMENT_CHECK, parallel_allowed=True),
                )),
                Operation("OP2", "Conjugation", (
                    Step("S3", "Add drug-linker", "Add drug-linker in DMSO (≤ 10 % v/v).",
                         StepKind.MATERIAL_ADDITION),
                )),
            )),
            UnitProcedure("UP2", "Purification", (
                Operation("OP1", "TFF", (
                    Step("S4", "Sample", "Take 2 x 1 mL for SEC.", StepKind.SAMPLING),
                )),
            )),
        ),
    )


def record(content: RecipeContent | None = None) -> MasterBatchRecord:
    draft = domain.create_draft(
        record_id="SYR-MBR-000042", home_site="syracuse", content=content or conjugation(),
        author="syracuse.author", now=NOW,
    )
    reviewed = SignatureRecord(
        signer="syracuse.reviewer", printed_name="Marcus Okafor",
        meaning=SignatureMeaning.REVIEWED, sign_time=NOW, reason="limits checked",
    )
    return replace(draft, signatures=(reviewed,))


def refusal(document: bytes) -> str:
    """The one violation of a refused document, as 'field: description'."""
    with pytest.raises(InvalidArgument) as refused:
        import_master_recipe(document)
    [violation] = refused.value.violations
    return f"{violation.field}: {violation.description}"


def test_export_validates_against_the_mesa_schema() -> None:
    document = export_master_recipe(record())

    xmlschema.XMLSchema(str(SCHEMA_FILE)).validate(xmlschema.XMLResource(document))
    libxml2_schema = etree.XMLSchema(etree.parse(str(SCHEMA_FILE)))
    root = etree.fromstring(document)
    assert libxml2_schema.validate(root), libxml2_schema.error_log
    assert root.tag == f"{{{B2MML}}}MasterRecipe"


def test_export_nests_the_isa88_levels_in_order() -> None:
    root = etree.fromstring(export_master_recipe(record()))

    def types(path: str) -> list[str]:
        elements = root.xpath(path, namespaces=NS)
        return [element.findtext("b:RecipeElementType", namespaces=NS) for element in elements]

    assert types("b:RecipeElement") == ["Procedure"]
    assert types("b:RecipeElement/b:RecipeElement") == ["UnitProcedure", "UnitProcedure"]
    assert types("b:RecipeElement/b:RecipeElement/b:RecipeElement") == ["Operation"] * 3
    phases = root.xpath("b:RecipeElement/b:RecipeElement/b:RecipeElement/b:RecipeElement/b:ID",
                        namespaces=NS)
    assert [phase.text for phase in phases] == ["S1", "S2", "S3", "S4"]
    assert root.findtext("b:Header/b:ProductID", namespaces=NS) == "TWX-101"
    approval = root.find("b:Header/b:ApprovalHistory/b:IndividualApproval", NS)
    assert approval.findtext("b:ApprovedBy", namespaces=NS) == "Marcus Okafor (syracuse.reviewer)"


def test_round_trip_keeps_the_recipe() -> None:
    original = record()
    document = export_master_recipe(original)

    imported = import_master_recipe(document)

    assert imported == original.content
    assert export_master_recipe(replace(original, content=imported)) == document


def test_wbf_batchml_v02_namespace_imports() -> None:
    v0701 = export_master_recipe(record())
    wbf = v0701.replace(B2MML.encode(), WBF_BATCHML.encode())
    assert import_master_recipe(wbf) == conjugation()


FOREIGN_WBF = f"""<?xml version="1.0" encoding="UTF-8"?>
<BatchInformation xmlns="{WBF_BATCHML}">
  <MasterRecipe>
    <ID>MR-7</ID>
    <Description>Buffer A preparation</Description>
    <Header><ProductID>BUF-A</ProductID></Header>
    <ProcedureLogic>
      <Link><ID>L1</ID>
        <FromID><FromIDValue>S-B</FromIDValue><FromType>Step</FromType><IDScope>Internal</IDScope></FromID>
        <ToID><ToIDValue>S-A</ToIDValue><ToType>Step</ToType><IDScope>Internal</IDScope></ToID>
        <LinkType>ControlLink</LinkType><Depiction>LineAndArrow</Depiction></Link>
      <Step><ID>S-A</ID><RecipeElementID>MIX</RecipeElementID><RecipeElementVersion>1</RecipeElementVersion></Step>
      <Step><ID>S-B</ID><RecipeElementID>PREP</RecipeElementID><RecipeElementVersion>1</RecipeElementVersion></Step>
    </ProcedureLogic>
    <RecipeElement><ID>MIX</ID><Description>Mixing</Description>
      <RecipeElementType>UnitProcedure</RecipeElementType>
      <RecipeElement><ID>OP</ID><Description>Mix</Description>
        <RecipeElementType>Operation</RecipeElementType>
        <RecipeElement><ID>P1</ID><Description>Stir</Description>
          <Description>Stir for 10 min.</Description>
          <RecipeElementType>Phase</RecipeElementType>
          <Parameter><ID>speed</ID><ParameterType>ProcessParameter</ParameterType>
            <ParameterSubType>Critical</ParameterSubType>
            <Value><ValueString>100</ValueString><DataInterpretation>Constant</DataInterpretation>
              <DataType>decimal</DataType><UnitOfMeasure>/min</UnitOfMeasure></Value>
            <Parameter><ID>HighLimit</ID><ParameterType>ProcessParameter</ParameterType>
              <Value><ValueString>120</ValueString><DataInterpretation>Constant</DataInterpretation>
                <DataType>decimal</DataType><UnitOfMeasure>/min</UnitOfMeasure></Value></Parameter>
          </Parameter>
        </RecipeElement>
      </RecipeElement>
    </RecipeElement>
    <RecipeElement><ID>PREP</ID><Description>Preparation</Description>
      <RecipeElementType>UnitProcedure</RecipeElementType>
      <RecipeElement><ID>OP</ID><Description>Check</Description>
        <RecipeElementType>Operation</RecipeElementType>
        <RecipeElement><ID>P2</ID><Description>Tank</Description>
          <Description>Tank T-101 is clean.</Description>
          <RecipeElementType>Phase</RecipeElementType></RecipeElement>
      </RecipeElement>
    </RecipeElement>
  </MasterRecipe>
</BatchInformation>
""".encode()


def test_a_foreign_wbf_recipe_imports_in_link_order() -> None:
    content = import_master_recipe(FOREIGN_WBF)

    assert (content.product, content.title) == ("BUF-A", "Buffer A preparation")
    assert [unit.id for unit in content.unit_procedures] == ["PREP", "MIX"]
    stir = content.unit_procedures[1].operations[0].steps[0]
    assert (stir.instruction, stir.kind) == ("Stir for 10 min.", StepKind.PROCESS_PARAMETER)
    assert stir.parameters == (
        ProcessParameter(name="speed", unit="/min", target=Decimal(100),
                         high_limit=Decimal(120), critical=True),
    )
    domain.validate_content(content)


VALID = export_master_recipe(record())


def _edit(old: bytes, new: bytes) -> bytes:
    assert VALID.count(old) >= 1, old
    return VALID.replace(old, new, 1)


def _line_of(document: bytes, pattern: bytes) -> int:
    found = re.search(pattern, document)
    assert found is not None, pattern
    return document.count(b"\n", 0, found.start()) + 1


@pytest.mark.parametrize(
    ("document", "at", "problem"),
    [
        pytest.param(
            _edit(b"</Version>", b"</Versoin>"), b"</Versoin>",
            "not well-formed XML: Opening and ending tag mismatch", id="malformed",
        ),
        pytest.param(
            _edit(b"<Header>", b"<Foo>bar</Foo>\n  <Header>"), b"<Foo>",
            "element 'Foo' is not expected in 'MasterRecipe'", id="wrong-element",
        ),
        pytest.param(
            _edit(b"<RecipeElementVersion>1</RecipeElementVersion>", b""), b"<Step>",
            "element 'Step' is incomplete: 'RecipeElementVersion' expected", id="missing-element",
        ),
        pytest.param(
            _edit(b"<RecipeElementType>Phase<", b"<RecipeElementType>Stage<"), b">Stage<",
            "element 'RecipeElementType': value must be one of", id="bad-enumeration",
        ),
        pytest.param(
            _edit(b"<ValueString>20</ValueString>", b"<ValueString>twenty</ValueString>"),
            b"<ValueString>twenty",
            "LowLimit of parameter 'temperature': 'twenty' is not a decimal number",
            id="bad-decimal",
        ),
        pytest.param(
            _edit(b"<RecipeElementType>Operation<", b"<RecipeElementType>Phase<"),
            rb"<RecipeElement>\s*<ID>OP1</ID>",
            "RecipeElement 'OP1' has RecipeElementType 'Phase' where 'Operation' is expected",
            id="wrong-level",
        ),
    ],
)
def test_an_invalid_document_is_refused_naming_the_line(
    document: bytes, at: bytes, problem: str
) -> None:
    line = _line_of(document, at)
    assert refusal(document).startswith(f"document: line {line}: {problem}")


def test_a_document_with_no_procedure_structure_is_refused() -> None:
    bare = f'<MasterRecipe xmlns="{B2MML}">\n  <ID>MR-1</ID>\n</MasterRecipe>'.encode()
    assert refusal(bare) == (
        "document: line 1: MasterRecipe 'MR-1' has no procedure structure: "
        "no UnitProcedure recipe element"
    )


@pytest.mark.parametrize(
    "document",
    [b"", b"  \n", b"<Recipe/>", b'<MasterRecipe xmlns="urn:example"><ID>x</ID></MasterRecipe>'],
)
def test_an_empty_document_or_unknown_root_is_refused(document: bytes) -> None:
    assert re.match(r"document: (is empty|line 1: root element)", refusal(document))


def test_external_entities_are_refused() -> None:
    xxe = (
        b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        + f'<MasterRecipe xmlns="{B2MML}"><ID>&xxe;</ID></MasterRecipe>'.encode()
    )
    problem = refusal(xxe)
    assert problem.startswith("document: line 2: Entities are forbidden")
    assert "root:" not in problem


def test_entity_expansion_is_refused() -> None:
    laughs = "".join(
        f'  <!ENTITY lol{n} "{f"&lol{n - 1};" * 10 if n else "lol"}">\n' for n in range(9)
    )
    bomb = (
        f'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n{laughs}]>\n'
        f'<MasterRecipe xmlns="{B2MML}"><ID>&lol8;</ID></MasterRecipe>'
    ).encode()
    assert refusal(bomb).startswith("document: line 3: Entities are forbidden")


def _order(content: RecipeContent) -> list[str]:
    return [operation.id for unit in content.unit_procedures for operation in unit.operations]


def test_the_built_parallel_recipe_is_valid_against_the_mesa_schema() -> None:
    schema = xmlschema.XMLSchema(str(SCHEMA_FILE))
    for extras in (False, True):
        assert list(schema.iter_errors(parallel_recipe(extras=extras))) == []


def test_steps_linked_through_a_parallel_split_and_join_keep_their_order() -> None:
    imported = read_master_recipe(parallel_recipe())

    assert _order(imported.content) == ["OP1", "OP2", "OP3", "OP4"]
    assert len(imported.warnings) == 1
    assert "'S2' and 'S3' of 'UP' are on parallel branches" in imported.warnings[0]
    domain.validate_content(imported.content)


def test_a_procedure_logic_that_loops_is_refused_naming_its_steps() -> None:
    looped = parallel_recipe().replace(
        b"<ToIDValue>T2</ToIDValue>", b"<ToIDValue>T1</ToIDValue>", 1
    )
    assert b"<ToIDValue>T1</ToIDValue>" in looped

    message = refusal(looped)

    assert "the ProcedureLogic of 'UP' loops through" in message


def test_every_loss_of_an_import_is_a_warning() -> None:
    imported = read_master_recipe(parallel_recipe(extras=True))

    warnings = "\n".join(imported.warnings)
    assert "Parameter 'Buffer salt' of Phase 'PH1' is ProcessInput (a material" in warnings
    assert "Phase 'PH5' is run by no procedure-logic step: not imported" in warnings
    phase = imported.content.unit_procedures[0].operations[0].steps[0]
    assert [parameter.name for parameter in phase.parameters] == ["temperature", "Temperature"]
    assert phase.parameters[1].critical  # ParameterSubType CTQ


def test_an_export_imports_with_no_warning() -> None:
    assert read_master_recipe(export_master_recipe(record())).warnings == ()


@pytest.mark.parametrize("unit", ["NULL", "kilogram", "RPM"])
def test_a_unit_that_is_not_ucum_is_refused(unit: str) -> None:
    content = import_master_recipe(parallel_recipe(unit=unit))

    with pytest.raises(InvalidArgument) as refused:
        domain.validate_content(content)
    assert (
        "master_batch_record.unit_procedures[0].operations[0].steps[0].parameters[0].unit",
        f"{unit!r} is not a UCUM unit code (e.g. 'Cel', 'mg/mL', '/min')",
    ) in {(item.field, item.description) for item in refused.value.violations}


def test_a_refusal_lists_the_first_ten_schema_errors_and_counts_them_all() -> None:
    removed = (
        b"<RecipeElementVersion>1</RecipeElementVersion>", b"<Depiction>LineAndArrow</Depiction>"
    )
    broken, missing = VALID, 0
    for element in removed:
        missing += broken.count(element)
        broken = broken.replace(element, b"")
    assert missing > 10
    broken = broken.replace(b"<Header>", b"<Header><Batch/>", 1)

    with pytest.raises(InvalidArgument) as refused:
        import_master_recipe(broken)

    message = str(refused.value)
    assert message.startswith(
        f"invalid BatchML document: {missing + 1} schema errors, the first 10 listed: "
    )
    descriptions = [violation.description for violation in refused.value.violations]
    assert len(descriptions) == 10
    assert {violation.field for violation in refused.value.violations} == {"document"}
    line = _line_of(broken, b"<Batch/>")
    assert descriptions[0].startswith(f"line {line}: element 'Batch' is not expected in 'Header'")
    assert descriptions[0].endswith("(at /MasterRecipe/Header/Batch)")
    assert all(re.match(r"line \d+: ", text) for text in descriptions)
    assert "element 'Step' is incomplete: 'RecipeElementVersion' expected (at /MasterRecipe/" in (
        message
    )


def test_a_schema_error_names_no_python_class() -> None:
    dated = _edit(b"<VersionDate>2026-03-02T09:30:00Z<", b"<VersionDate>yesterday<")

    problem = refusal(dated)

    assert "Invalid datetime string 'yesterday' (at /MasterRecipe/VersionDate" in problem
    assert "class" not in problem and "elementpath" not in problem


def test_a_too_long_text_is_refused_without_lxml_advice() -> None:
    huge = _edit(b"<ID>", b"<ID>" + b"x" * 10_000_001)

    problem = refusal(huge)

    assert "not well-formed XML: Resource limit exceeded" in problem
    assert "XML_PARSE" not in problem
