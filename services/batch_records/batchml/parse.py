"""A BatchML MasterRecipe document read into the recipe of a new draft.

The document is validated against the V0701 schema first. Then its procedure is walked top
down: each element's children are the recipe elements its ProcedureLogic runs, in the order
its links give (through Steps, Transitions and Links alike; document order where they leave
it open), else its nested RecipeElements. What the recipe model cannot hold is not dropped
silently: each loss is a warning of the import (docs/batchml.md).
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from services.batch_records.batchml import vocabulary as v
from services.batch_records.batchml.schema import invalid, read, validate
from services.batch_records.master.domain import (
    Operation,
    ProcessParameter,
    RecipeContent,
    Step,
    StepKind,
    UnitProcedure,
    parse_decimal,
)
from services.common.domain.errors import Violations

Library = dict[str, Any]


@dataclass
class Reading:
    """What a walk of one document has found beside the recipe: the elements it ran, losses."""

    # id() of each element run, with the element kept so that lxml keeps its proxy (and id).
    used: dict[int, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def warn(self, element: Any, text: str) -> None:
        line = getattr(element, "sourceline", None)
        self.warnings.append(f"line {line}: {text}" if line else text)


@dataclass(frozen=True)
class ImportedRecipe:
    """The recipe of a new draft and every loss of the import, one sentence each."""

    content: RecipeContent
    warnings: tuple[str, ...]


def import_master_recipe(document: bytes) -> RecipeContent:
    return read_master_recipe(document).content


def read_master_recipe(document: bytes) -> ImportedRecipe:
    root = read(document)
    validate(root)
    recipe = _master_recipe(root)
    reading = Reading()
    library: Library = {_id(e): e for e in recipe.findall("b:RecipeElement", v.NS)}
    top = _children(recipe, library, reading)
    process = ""
    if len(top) == 1 and _type(top[0]) == v.PROCEDURE:
        process = _text(top[0], "Description")
        top = _children(top[0], library, reading)
    if not top:
        raise invalid(
            recipe.sourceline,
            f"MasterRecipe '{_id(recipe)}' has no procedure structure: no {v.UNIT_PROCEDURE} "
            "recipe element",
        )
    title = _text(recipe, "Description") or _id(recipe)
    header = recipe.find("b:Header", v.NS)
    product = "" if header is None else _text(header, "ProductID") or _text(header, "ProductName")
    content = RecipeContent(
        product=product, process=process or title, title=title,
        unit_procedures=tuple(_unit_procedure(element, library, reading) for element in top),
    )
    _warn_unused(recipe, reading)
    return ImportedRecipe(content=content, warnings=tuple(reading.warnings))


def _warn_unused(recipe: Any, reading: Reading) -> None:
    """A warning for each recipe element that no procedure-logic step runs (not imported)."""
    for element in recipe.iter(v.qualified("RecipeElement")):
        if id(element) in reading.used or _type(element) in v.MARKERS:
            continue
        if any(id(parent) not in reading.used for parent in _element_ancestors(element, recipe)):
            continue  # inside an element already reported
        reading.warn(
            element,
            f"{_type(element) or 'RecipeElement'} '{_id(element)}' is run by no "
            "procedure-logic step: not imported",
        )


def _element_ancestors(element: Any, recipe: Any) -> list[Any]:
    ancestors = []
    parent = element.getparent()
    while parent is not None and parent is not recipe:
        if parent.tag == v.qualified("RecipeElement"):
            ancestors.append(parent)
        parent = parent.getparent()
    return ancestors


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


def _unit_procedure(element: Any, library: Library, reading: Reading) -> UnitProcedure:
    _expect(element, v.UNIT_PROCEDURE)
    children = _children(element, library, reading)
    return UnitProcedure(
        id=_id(element), name=_name(element),
        operations=tuple(_operation(child, library, reading) for child in children),
    )


def _operation(element: Any, library: Library, reading: Reading) -> Operation:
    _expect(element, v.OPERATION)
    return Operation(
        id=_id(element), name=_name(element),
        steps=tuple(_step(child, reading) for child in _children(element, library, reading)),
    )


def _step(element: Any, reading: Reading) -> Step:
    _expect(element, v.PHASE)
    information = _other_information(element)
    parameters = tuple(
        _parameter(p) for p in element.findall("b:Parameter", v.NS) if _mapped(p, element, reading)
    )
    instruction = information.get(v.INSTRUCTION, (None, ""))[1] or "\n".join(
        (d.text or "").strip() for d in element.findall("b:Description", v.NS)[1:]
    )
    return Step(
        id=_id(element), name=_name(element), instruction=instruction,
        kind=_kind(information, parameters), parameters=parameters,
        requires_verification=_flag(information, v.REQUIRES_VERIFICATION),
        parallel_allowed=_flag(information, v.PARALLEL_ALLOWED),
    )


def _mapped(parameter: Any, phase: Any, reading: Reading) -> bool:
    """True for a process parameter; a material or other parameter is a warning instead."""
    parameter_type = _text(parameter, "ParameterType")
    if parameter_type == v.PROCESS_PARAMETER:
        return True
    what = "a material, " if parameter_type in ("ProcessInput", "ProcessOutput") else ""
    reading.warn(
        parameter,
        f"Parameter '{_name(parameter)}' of Phase '{_id(phase)}' is {parameter_type} "
        f"({what}not a process parameter): a step has no place for it, not imported",
    )
    return False


def _parameter(element: Any) -> ProcessParameter:
    name = _name(element)
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


def _children(element: Any, library: Library, reading: Reading) -> list[Any]:
    """The recipe elements element runs, in order; Begin and End markers left out."""
    reading.used[id(element)] = element
    nested: Library = {_id(child): child for child in element.findall("b:RecipeElement", v.NS)}
    logic = element.find("b:ProcedureLogic", v.NS)
    steps = [] if logic is None else _ordered_steps(logic, element, reading)
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
    for child in children:
        reading.used[id(child)] = child
    return [child for child in children if _type(child) not in v.MARKERS]


def _ordered_steps(logic: Any, owner: Any, reading: Reading) -> list[Any]:
    """The logic's Step elements in link order; ties fall back to document order.

    Each Link is a node of its own between its From and its To, so that steps joined through
    parallel split and join points (FromType/ToType Link) keep their order. Steps on parallel
    branches are put one after the other, which is a warning; a loop is refused.
    """
    links = [
        link for link in logic.findall("b:Link", v.NS)
        if _text(link, "LinkType") != "TransferLink"  # material flow, not order
    ]
    nodes = [(v.STEP, s) for s in logic.findall("b:Step", v.NS)]
    nodes += [(v.TRANSITION, t) for t in logic.findall("b:Transition", v.NS)]
    nodes += [(v.LINK, link) for link in links]
    index: dict[tuple[str, str], int] = {}
    for position, (kind, node) in enumerate(nodes):
        index.setdefault((kind, _id(node)), position)
    successors: defaultdict[int, list[int]] = defaultdict(list)
    incoming = [0] * len(nodes)

    def edge(start: int | None, end: int | None) -> None:
        if start is not None and end is not None and start != end:
            successors[start].append(end)
            incoming[end] += 1

    for link in links:
        here = index[(v.LINK, _id(link))]
        for source in link.findall("b:FromID", v.NS):
            edge(index.get((_text(source, "FromType"), _text(source, "FromIDValue"))), here)
        for target in link.findall("b:ToID", v.NS):
            edge(here, index.get((_text(target, "ToType"), _text(target, "ToIDValue"))))
    ready = [position for position, count in enumerate(incoming) if count == 0]
    order: list[int] = []
    while ready:
        position = heapq.heappop(ready)
        order.append(position)
        for following in successors[position]:
            incoming[following] -= 1
            if incoming[following] == 0:
                heapq.heappush(ready, following)
    if len(order) < len(nodes):
        looped = [_id(nodes[p][1]) for p in range(len(nodes)) if p not in set(order)]
        raise invalid(
            logic.sourceline,
            f"the ProcedureLogic of '{_id(owner)}' loops through {', '.join(looped[:10])}: a "
            "master batch record runs its steps once each, in one order",
        )
    steps = [position for position in order if nodes[position][0] == v.STEP]
    _warn_parallel(steps, successors, nodes, owner, reading)
    return [nodes[position][1] for position in steps]


def _warn_parallel(
    steps: list[int], successors: defaultdict[int, list[int]], nodes: list[tuple[str, Any]],
    owner: Any, reading: Reading,
) -> None:
    """A warning for each pair of consecutive steps that the links leave unordered."""
    for before, after in itertools.pairwise(steps):
        if not _reaches(before, after, successors):
            first, second = _id(nodes[before][1]), _id(nodes[after][1])
            reading.warn(
                nodes[after][1],
                f"steps '{first}' and '{second}' of '{_id(owner)}' are on parallel branches "
                f"(or not linked): imported one after the other, '{first}' first",
            )


def _reaches(start: int, end: int, successors: defaultdict[int, list[int]]) -> bool:
    seen, frontier = {start}, [start]
    while frontier:
        for following in successors[frontier.pop()]:
            if following == end:
                return True
            if following not in seen:
                seen.add(following)
                frontier.append(following)
    return False


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
