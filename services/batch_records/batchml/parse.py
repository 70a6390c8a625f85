"""A BatchML MasterRecipe document read into the recipe of a new draft.

The document is validated against the V0701 schema first. Then its procedure is walked top
down: each element's children are the recipe elements its ProcedureLogic runs, in the order
its links give (document order where they leave it open), else its nested RecipeElements.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from decimal import Decimal
from typing import Any

from services.batch_records.batchml import vocabulary as v
from services.batch_records.batchml.schema import invalid, read, validate
from services.batch_records.domain import (
    Operation,
    ProcessParameter,
    RecipeContent,
    Step,
    StepKind,
    UnitProcedure,
    parse_decimal,
)
from services.common.errors import Violations

Library = dict[str, Any]


def import_master_recipe(document: bytes) -> RecipeContent:
    root = read(document)
    validate(root)
    recipe = _master_recipe(root)
    library: Library = {_id(e): e for e in recipe.findall("b:RecipeElement", v.NS)}
    top = _children(recipe, library)
    process = ""
    if len(top) == 1 and _type(top[0]) == v.PROCEDURE:
        process = _text(top[0], "Description")
        top = _children(top[0], library)
    if not top:
        raise invalid(
            recipe.sourceline,
            f"MasterRecipe '{_id(recipe)}' has no procedure structure: no {v.UNIT_PROCEDURE} "
            "recipe element",
        )
    title = _text(recipe, "Description") or _id(recipe)
    header = recipe.find("b:Header", v.NS)
    product = "" if header is None else _text(header, "ProductID") or _text(header, "ProductName")
    return RecipeContent(
        product=product, process=process or title, title=title,
        unit_procedures=tuple(_unit_procedure(element, library) for element in top),
    )


def _master_recipe(root: Any) -> Any:
    if root.tag == v.qualified("MasterRecipe"):
        return root
    recipes = root.findall("b:MasterRecipe", v.NS)
    if len(recipes) != 1:
        raise invalid(
            root.sourceline,
            f"BatchInformation holds {len(recipes)} MasterRecipe elements; import exactly one",
        )
    return recipes[0]


def _unit_procedure(element: Any, library: Library) -> UnitProcedure:
    _expect(element, v.UNIT_PROCEDURE)
    return UnitProcedure(
        id=_id(element), name=_name(element),
        operations=tuple(_operation(child, library) for child in _children(element, library)),
    )


def _operation(element: Any, library: Library) -> Operation:
    _expect(element, v.OPERATION)
    return Operation(
        id=_id(element), name=_name(element),
        steps=tuple(_step(child) for child in _children(element, library)),
    )


def _step(element: Any) -> Step:
    _expect(element, v.PHASE)
    information = _other_information(element)
    parameters = tuple(_parameter(p) for p in element.findall("b:Parameter", v.NS))
    instruction = information.get(v.INSTRUCTION, (None, ""))[1] or "\n".join(
        (d.text or "").strip() for d in element.findall("b:Description", v.NS)[1:]
    )
    return Step(
        id=_id(element), name=_name(element), instruction=instruction,
        kind=_kind(information, parameters), parameters=parameters,
        requires_verification=_flag(information, v.REQUIRES_VERIFICATION),
        parallel_allowed=_flag(information, v.PARALLEL_ALLOWED),
    )


def _parameter(element: Any) -> ProcessParameter:
    name = _id(element)
    value = element.find("b:Value", v.NS)
    unit = "" if value is None else _text(value, "UnitOfMeasure")
    target = None if value is None else _decimal(value, f"the target of parameter '{name}'")
    limits: dict[str, Decimal | None] = {}
    for child in element.findall("b:Parameter", v.NS):
        field, limit = v.LIMITS.get(_id(child)), child.find("b:Value", v.NS)
        if field is None or limit is None:
            continue
        what = f"{_id(child)} of parameter '{name}'"
        limit_unit = _text(limit, "UnitOfMeasure")
        if unit and limit_unit and limit_unit != unit:
            raise invalid(limit.sourceline, f"{what} is in '{limit_unit}', not '{unit}'")
        unit = unit or limit_unit
        limits[field] = _decimal(limit, what)
    subtypes = {(s.text or "").strip().lower() for s in element.findall("b:ParameterSubType", v.NS)}
    return ProcessParameter(
        name=name, unit=unit, target=target, critical=bool(subtypes & v.CRITICAL_SUBTYPES),
        **limits,
    )


def _children(element: Any, library: Library) -> list[Any]:
    """The recipe elements element runs, in order; Begin and End markers left out."""
    nested: Library = {_id(child): child for child in element.findall("b:RecipeElement", v.NS)}
    logic = element.find("b:ProcedureLogic", v.NS)
    steps = [] if logic is None else _ordered_steps(logic)
    if not steps:
        children = list(nested.values())
    else:
        children = []
        for step in steps:
            reference = _text(step, "RecipeElementID")
            child = nested.get(reference, library.get(reference))
            if child is None:
                raise invalid(
                    step.sourceline,
                    f"step '{_id(step)}' runs RecipeElement '{reference}', which is not defined",
                )
            children.append(child)
    return [child for child in children if _type(child) not in v.MARKERS]


def _ordered_steps(logic: Any) -> list[Any]:
    """The logic's Step elements in link order; ties and loops fall back to document order."""
    nodes = [("Step", s) for s in logic.findall("b:Step", v.NS)]
    nodes += [("Transition", t) for t in logic.findall("b:Transition", v.NS)]
    index: dict[tuple[str, str], int] = {}
    for position, (kind, node) in enumerate(nodes):
        index.setdefault((kind, _id(node)), position)
    successors: defaultdict[int, list[int]] = defaultdict(list)
    incoming = [0] * len(nodes)
    for link in logic.findall("b:Link", v.NS):
        if _text(link, "LinkType") == "TransferLink":  # material flow, not order
            continue
        for source in link.findall("b:FromID", v.NS):
            for target in link.findall("b:ToID", v.NS):
                start = index.get((_text(source, "FromType"), _text(source, "FromIDValue")))
                end = index.get((_text(target, "ToType"), _text(target, "ToIDValue")))
                if start is not None and end is not None and start != end:
                    successors[start].append(end)
                    incoming[end] += 1
    ready = [position for position, count in enumerate(incoming) if count == 0]
    order: list[int] = []
    while ready:
        position = heapq.heappop(ready)
        order.append(position)
        for following in successors[position]:
            incoming[following] -= 1
            if incoming[following] == 0:
                heapq.heappush(ready, following)
    placed = set(order)
    order += [position for position in range(len(nodes)) if position not in placed]
    return [nodes[position][1] for position in order if nodes[position][0] == "Step"]


def _other_information(element: Any) -> dict[str, tuple[Any, str]]:
    """OtherInformation by ID: the element and its first ValueString (else its Description)."""
    found: dict[str, tuple[Any, str]] = {}
    for info in element.findall("b:OtherInformation", v.NS):
        value = info.find("b:Value", v.NS)
        text = _text(value, "ValueString") if value is not None else _text(info, "Description")
        found.setdefault(_id(info), (info, text))
    return found


def _kind(information: dict[str, tuple[Any, str]], parameters: tuple[Any, ...]) -> StepKind:
    if v.STEP_KIND not in information:  # a foreign recipe: a phase with parameters sets them
        return StepKind.PROCESS_PARAMETER if parameters else StepKind.INSTRUCTION
    info, text = information[v.STEP_KIND]
    try:
        return StepKind(text.lower())
    except ValueError:
        allowed = ", ".join(kind.value for kind in StepKind)
        raise invalid(info.sourceline, f"{v.STEP_KIND} {text!r} is not one of {allowed}") from None


def _flag(information: dict[str, tuple[Any, str]], info_id: str) -> bool:
    if info_id not in information:
        return False
    info, text = information[info_id]
    if text.lower() not in ("true", "false", "1", "0"):
        raise invalid(info.sourceline, f"{info_id} {text!r} is not true or false")
    return text.lower() in ("true", "1")


def _decimal(value: Any, what: str) -> Decimal | None:
    violations = Violations()
    number = parse_decimal(_text(value, "ValueString"), what, violations)
    if violations.items:
        line = value.find("b:ValueString", v.NS).sourceline
        raise invalid(line, f"{what}: {violations.items[0].description}")
    return number


def _expect(element: Any, element_type: str) -> None:
    found = _type(element)
    if found != element_type:
        raise invalid(
            element.sourceline,
            f"RecipeElement '{_id(element)}' has RecipeElementType '{found}' where "
            f"'{element_type}' is expected (Procedure → UnitProcedure → Operation → Phase)",
        )


def _type(element: Any) -> str:
    return _text(element, "RecipeElementType")


def _id(element: Any) -> str:
    return _text(element, "ID")


def _name(element: Any) -> str:
    return _text(element, "Description") or _id(element)


def _text(element: Any, name: str) -> str:
    return (element.findtext(f"b:{name}", "", v.NS) or "").strip()
