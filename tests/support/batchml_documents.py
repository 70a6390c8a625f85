"""V0701 master recipes built for import tests: a parallel split and join in the procedure
logic, parameters of every ParameterType, a phase no step runs. Each is schema-valid."""

from __future__ import annotations

from lxml import etree

from services.batch_records.batchml.vocabulary import B2MML

_V = f"{{{B2MML}}}"


def _add(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, _V + name)
    if text is not None:
        child.text = text
    return child


def _link(
    logic: etree._Element, link_id: str, sources: list[tuple[str, str]],
    targets: list[tuple[str, str]], link_type: str = "ControlLink",
) -> None:
    link = _add(logic, "Link")
    _add(link, "ID", link_id)
    for kind, value in sources:
        source = _add(link, "FromID")
        _add(source, "FromIDValue", value)
        _add(source, "FromType", kind)
        _add(source, "IDScope", "Internal")
    for kind, value in targets:
        target = _add(link, "ToID")
        _add(target, "ToIDValue", value)
        _add(target, "ToType", kind)
        _add(target, "IDScope", "Internal")
    _add(link, "LinkType", link_type)
    _add(link, "Depiction", "LineAndArrow")


def _step(logic: etree._Element, step_id: str, element_id: str) -> None:
    step = _add(logic, "Step")
    _add(step, "ID", step_id)
    _add(step, "RecipeElementID", element_id)
    _add(step, "RecipeElementVersion", "1")


def _transition(logic: etree._Element, transition_id: str) -> None:
    transition = _add(logic, "Transition")
    _add(transition, "ID", transition_id)
    _add(transition, "Condition", "True")


def _parameter(
    parent: etree._Element, parameter_id: str, description: str, parameter_type: str,
    unit: str, value: str, subtype: str | None = None, high: str | None = None,
) -> None:
    parameter = _add(parent, "Parameter")
    _add(parameter, "ID", parameter_id)
    _add(parameter, "Description", description)
    _add(parameter, "ParameterType", parameter_type)
    if subtype:
        _add(parameter, "ParameterSubType", subtype)
    _value(parameter, value, unit)
    if high is not None:
        limit = _add(parameter, "Parameter")
        _add(limit, "ID", "HighLimit")
        _add(limit, "ParameterType", "ProcessParameter")
        _value(limit, high, unit)


def _value(parent: etree._Element, text: str, unit: str) -> None:
    value = _add(parent, "Value")
    _add(value, "ValueString", text)
    _add(value, "DataInterpretation", "Constant")
    _add(value, "DataType", "decimal")
    _add(value, "UnitOfMeasure", unit)


def _element(
    parent: etree._Element, element_id: str, kind: str, *descriptions: str
) -> etree._Element:
    element = _add(parent, "RecipeElement")
    _add(element, "ID", element_id)
    for description in descriptions:
        _add(element, "Description", description)
    _add(element, "RecipeElementType", kind)
    return element


def parallel_recipe(*, unit: str = "Cel", extras: bool = False) -> bytes:
    """OP1 → T1 → split → (OP2 ∥ OP3) → join → T2 → OP4, the Steps written OP4, OP2, OP3, OP1.

    The split and join are Links whose From/To are Links (FromType/ToType = Link). With extras,
    OP1's phase also has a ProcessInput (a material) and a CTQ parameter described
    "Temperature" under the source id "1", and OP4 has a phase that no step runs.
    """
    recipe = etree.Element(_V + "MasterRecipe", nsmap={None: B2MML})
    _add(recipe, "ID", "MR-PAR")
    _add(recipe, "Version", "1")
    _add(recipe, "Description", "Parallel buffers")
    header = _add(recipe, "Header")
    _add(header, "ProductID", "BUF-P")
    top = _add(recipe, "ProcedureLogic")
    _step(top, "S-UP", "UP")
    unit_procedure = _element(recipe, "UP", "UnitProcedure", "Buffers")
    logic = _add(unit_procedure, "ProcedureLogic")
    _link(logic, "L1", [("Step", "S1")], [("Transition", "T1")])
    _link(logic, "L2", [("Transition", "T1")], [("Link", "SPLIT")])
    _link(logic, "SPLIT", [("Link", "L2")], [("Step", "S2"), ("Step", "S3")], "ParallelDivergent")
    _link(logic, "L3", [("Step", "S2")], [("Link", "JOIN")])
    _link(logic, "L4", [("Step", "S3")], [("Link", "JOIN")])
    _link(logic, "JOIN", [("Link", "L3"), ("Link", "L4")], [("Transition", "T2")],
          "ParallelConvergent")
    _link(logic, "L5", [("Transition", "T2")], [("Step", "S4")])
    for step_id, element_id in (("S4", "OP4"), ("S2", "OP2"), ("S3", "OP3"), ("S1", "OP1")):
        _step(logic, step_id, element_id)
    _transition(logic, "T1")
    _transition(logic, "T2")
    for number in (1, 2, 3, 4):
        operation = _element(unit_procedure, f"OP{number}", "Operation", f"Operation {number}")
        if extras and number == 4:
            # A logic that runs only PH4 leaves PH5, a phase of the same operation, unrun.
            _step(_add(operation, "ProcedureLogic"), "S-PH4", "PH4")
        phase = _element(
            operation, f"PH{number}", "Phase", f"Phase {number}", f"Do part {number}."
        )
        _parameter(phase, "temperature", "temperature", "ProcessParameter", unit, "25")
        if extras and number == 1:
            _parameter(phase, "1", "Temperature", "ProcessParameter", "Cel", "25", "CTQ", "30")
            _parameter(phase, "2", "Buffer salt", "ProcessInput", "kg", "3")
        if extras and number == 4:
            _element(operation, "PH5", "Phase", "Phase 5", "Never run.")
    return etree.tostring(recipe, xml_declaration=True, encoding="UTF-8", pretty_print=True)
