"""Structural and parametric differences between two recipes: what a transfer changes (pure).

Identity is by id, never by position or name; a rename is the same id with another name.
Unit procedures match by id. Operations match by id inside the same unit procedure, then, among
those left over, by an id that is left over once on each side: that operation moved to another
unit procedure. Steps match by id across the whole recipe (ids are unique in a record), so a
step that went to another operation is MOVED, not removed and added. Parameters match by name
inside their step.

A node that stays under the same parent but changed place is MOVED too ("reordered"): the
nodes that kept their order are a longest common subsequence of the two orders, and only the
others are reported, so one step taken to the front is one move, not a shift of all the rest.

Limits are compared as recorded: across a unit change (``Cel`` → ``K``) a limit is only
"changed", never converted, and the unit change is reported beside it.

Changes come in the after-recipe's order (each node, then what is under it), then the removals
in the before-recipe's order. Everything under an added or removed node is reported with it,
parameters included, so a review of parameter changes also sees a new step's parameters. The
order of the parameters inside a step is no difference.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from services.common.domain.errors import Violations


@dataclass(frozen=True)
class Parameter:
    """A process parameter: its UCUM unit, target and limits (None: no such value)."""

    name: str
    unit: str
    target: Decimal | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    critical: bool = False
    alert_low: Decimal | None = None
    alert_high: Decimal | None = None


@dataclass(frozen=True)
class Step:
    id: str
    name: str
    kind: str  # e.g. "PROCESS_PARAMETER", "MATERIAL_ADDITION"
    instruction: str
    requires_verification: bool = False
    parameters: tuple[Parameter, ...] = ()
    parallel_allowed: bool = False


@dataclass(frozen=True)
class Operation:
    id: str
    name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class UnitProcedure:
    id: str
    name: str
    operations: tuple[Operation, ...]


@dataclass(frozen=True)
class Recipe:
    unit_procedures: tuple[UnitProcedure, ...]


class ChangeKind(StrEnum):
    UNIT_PROCEDURE_ADDED = "unit_procedure_added"
    UNIT_PROCEDURE_REMOVED = "unit_procedure_removed"
    UNIT_PROCEDURE_RENAMED = "unit_procedure_renamed"
    UNIT_PROCEDURE_MOVED = "unit_procedure_moved"
    OPERATION_ADDED = "operation_added"
    OPERATION_REMOVED = "operation_removed"
    OPERATION_RENAMED = "operation_renamed"
    OPERATION_MOVED = "operation_moved"
    STEP_ADDED = "step_added"
    STEP_REMOVED = "step_removed"
    STEP_RENAMED = "step_renamed"
    STEP_MOVED = "step_moved"
    STEP_CHANGED = "step_changed"
    PARAMETER_ADDED = "parameter_added"
    PARAMETER_REMOVED = "parameter_removed"
    PARAMETER_UNIT_CHANGED = "parameter_unit_changed"
    PARAMETER_LIMIT_CHANGED = "parameter_limit_changed"
    PARAMETER_TARGET_CHANGED = "parameter_target_changed"
    PARAMETER_CRITICALITY_CHANGED = "parameter_criticality_changed"


@dataclass(frozen=True)
class Change:
    """One difference. ``path`` is where the node is (after; before for a removal), e.g.
    ``UP1/OP2/S3`` or ``UP1/OP2/S3/temperature``. For a move to another parent ``before`` and
    ``after`` are the parents' paths; for a reorder, the 1-based positions under the parent;
    for a STEP_CHANGED, the field's values, and ``detail`` names the field."""

    kind: ChangeKind
    path: str
    before: str = ""
    after: str = ""
    detail: str = ""


# The step's fields a STEP_CHANGED reports, besides its name, place and parameters.
STEP_FIELDS = ("kind", "instruction", "requires_verification", "parallel_allowed")

OperationKey = tuple[str, str]  # (unit procedure id, operation id)
Node = TypeVar("Node", str, OperationKey)


@dataclass(frozen=True)
class _Placed:
    """Where a step stands in its recipe."""

    operation: OperationKey
    position: int
    step: Step


@dataclass(frozen=True)
class _Index:
    """A recipe's nodes by identity, with their 1-based positions under their parent."""

    unit_procedures: dict[str, tuple[int, UnitProcedure]]
    operations: dict[OperationKey, tuple[int, Operation]]
    steps: dict[str, _Placed]

    @classmethod
    def of(cls, recipe: Recipe) -> _Index:
        unit_procedures: dict[str, tuple[int, UnitProcedure]] = {}
        operations: dict[OperationKey, tuple[int, Operation]] = {}
        steps: dict[str, _Placed] = {}
        for u, unit_procedure in enumerate(recipe.unit_procedures, 1):
            unit_procedures[unit_procedure.id] = (u, unit_procedure)
            for o, operation in enumerate(unit_procedure.operations, 1):
                key = (unit_procedure.id, operation.id)
                operations[key] = (o, operation)
                for s, step in enumerate(operation.steps, 1):
                    steps[step.id] = _Placed(key, s, step)
        return cls(unit_procedures, operations, steps)


def diff(before: Recipe, after: Recipe) -> tuple[Change, ...]:
    """Every structural and parametric difference from ``before`` to ``after``, in order.

    A unit change and a limit change on one parameter are both reported; limits across a unit
    change are "changed", never tightened or widened, as no unit is converted.

    Raises InvalidArgument when ids do not identify: a unit procedure id twice in a recipe, an
    operation id twice in one unit procedure, a step id twice in a recipe, or a parameter name
    twice in one step.
    """
    _check_identities(before, "before")
    _check_identities(after, "after")
    return tuple(_Comparison(before, after).changes())


class _Comparison:
    def __init__(self, before: Recipe, after: Recipe) -> None:
        self.before_recipe, self.after_recipe = before, after
        self.before, self.after = _Index.of(before), _Index.of(after)
        # after operation → the before operation it is.
        self.operation_pairs = _pair_operations(before, after)
        self.paired_before = set(self.operation_pairs.values())
        self.reordered = self._reordered()

    def changes(self) -> Iterator[Change]:
        for unit_procedure in self.after_recipe.unit_procedures:
            yield from self._unit_procedure(unit_procedure)
        yield from self._removals()

    # --- what the after-recipe has ----------------------------------------------------

    def _unit_procedure(self, unit_procedure: UnitProcedure) -> Iterator[Change]:
        path = unit_procedure.id
        found = self.before.unit_procedures.get(unit_procedure.id)
        if found is None:
            yield Change(ChangeKind.UNIT_PROCEDURE_ADDED, path, after=unit_procedure.name)
        else:
            position, old = found
            if old.name != unit_procedure.name:
                yield Change(
                    ChangeKind.UNIT_PROCEDURE_RENAMED, path, old.name, unit_procedure.name
                )
            if path in self.reordered:
                new_position = self.after.unit_procedures[path][0]
                yield Change(
                    ChangeKind.UNIT_PROCEDURE_MOVED, path, str(position), str(new_position),
                    "reordered in the recipe",
                )
        for operation in unit_procedure.operations:
            yield from self._operation(unit_procedure.id, operation)

    def _operation(self, unit_procedure_id: str, operation: Operation) -> Iterator[Change]:
        key = (unit_procedure_id, operation.id)
        path = _path(key)
        old_key = self.operation_pairs.get(key)
        if old_key is None:
            yield Change(ChangeKind.OPERATION_ADDED, path, after=operation.name)
        else:
            position, old = self.before.operations[old_key]
            if old.name != operation.name:
                yield Change(ChangeKind.OPERATION_RENAMED, path, old.name, operation.name)
            if old_key[0] != unit_procedure_id:
                yield Change(
                    ChangeKind.OPERATION_MOVED, path, old_key[0], unit_procedure_id,
                    "moved to another unit procedure",
                )
            elif path in self.reordered:
                yield Change(
                    ChangeKind.OPERATION_MOVED, path, str(position),
                    str(self.after.operations[key][0]), f"reordered in {unit_procedure_id}",
                )
        for step in operation.steps:
            yield from self._step(key, step)

    def _step(self, operation: OperationKey, step: Step) -> Iterator[Change]:
        path = f"{_path(operation)}/{step.id}"
        placed = self.before.steps.get(step.id)
        if placed is None:
            yield Change(ChangeKind.STEP_ADDED, path, after=step.name, detail=step.kind)
            for parameter in step.parameters:
                yield Change(
                    ChangeKind.PARAMETER_ADDED, f"{path}/{parameter.name}",
                    after=_describe(parameter),
                )
            return
        old = placed.step
        if old.name != step.name:
            yield Change(ChangeKind.STEP_RENAMED, path, old.name, step.name)
        if self.operation_pairs.get(operation) != placed.operation:
            yield Change(
                ChangeKind.STEP_MOVED, path, _path(placed.operation), _path(operation),
                "moved to another operation",
            )
        elif path in self.reordered:
            yield Change(
                ChangeKind.STEP_MOVED, path, str(placed.position),
                str(self.after.steps[step.id].position), f"reordered in {_path(operation)}",
            )
        for field in STEP_FIELDS:
            was, now = getattr(old, field), getattr(step, field)
            if was != now:
                yield Change(ChangeKind.STEP_CHANGED, path, _text(was), _text(now), field)
        old_parameters = {parameter.name: parameter for parameter in old.parameters}
        for parameter in step.parameters:
            parameter_path = f"{path}/{parameter.name}"
            if parameter.name in old_parameters:
                yield from _parameter_changes(
                    parameter_path, old_parameters[parameter.name], parameter
                )
            else:
                yield Change(
                    ChangeKind.PARAMETER_ADDED, parameter_path, after=_describe(parameter)
                )

    # --- what only the before-recipe has -----------------------------------------------

    def _removals(self) -> Iterator[Change]:
        for unit_procedure in self.before_recipe.unit_procedures:
            if unit_procedure.id not in self.after.unit_procedures:
                yield Change(
                    ChangeKind.UNIT_PROCEDURE_REMOVED, unit_procedure.id,
                    before=unit_procedure.name,
                )
            for operation in unit_procedure.operations:
                key = (unit_procedure.id, operation.id)
                if key not in self.paired_before:
                    yield Change(
                        ChangeKind.OPERATION_REMOVED, _path(key), before=operation.name
                    )
                for step in operation.steps:
                    yield from self._step_removals(key, step)

    def _step_removals(self, operation: OperationKey, step: Step) -> Iterator[Change]:
        path = f"{_path(operation)}/{step.id}"
        placed = self.after.steps.get(step.id)
        if placed is None:
            yield Change(ChangeKind.STEP_REMOVED, path, before=step.name, detail=step.kind)
        kept = set() if placed is None else {p.name for p in placed.step.parameters}
        for parameter in step.parameters:
            if parameter.name not in kept:
                yield Change(
                    ChangeKind.PARAMETER_REMOVED, f"{path}/{parameter.name}",
                    before=_describe(parameter),
                )

    # --- reorders -------------------------------------------------------------------

    def _reordered(self) -> set[str]:
        """Paths (after) of the nodes that stayed under their parent but left its order."""
        moved: set[str] = set()
        before_ids = [up.id for up in self.before_recipe.unit_procedures]
        after_ids = [up.id for up in self.after_recipe.unit_procedures]
        common = set(before_ids) & set(after_ids)
        moved |= _out_of_order(
            [i for i in before_ids if i in common], [i for i in after_ids if i in common]
        )
        for unit_procedure in self.after_recipe.unit_procedures:
            if unit_procedure.id not in self.before.unit_procedures:
                continue
            old = self.before.unit_procedures[unit_procedure.id][1]
            stayed = [
                (unit_procedure.id, operation.id) for operation in unit_procedure.operations
                if self.operation_pairs.get((unit_procedure.id, operation.id))
                == (unit_procedure.id, operation.id)
            ]
            kept = set(stayed)
            old_order = [
                (old.id, operation.id) for operation in old.operations
                if (old.id, operation.id) in kept
            ]
            moved |= {_path(key) for key in _out_of_order(old_order, stayed)}
        for key, old_key in self.operation_pairs.items():
            operation = self.after.operations[key][1]
            old_operation = self.before.operations[old_key][1]
            stayed_steps = [
                step.id for step in operation.steps
                if step.id in self.before.steps
                and self.before.steps[step.id].operation == old_key
            ]
            kept_steps = set(stayed_steps)
            old_steps = [step.id for step in old_operation.steps if step.id in kept_steps]
            moved |= {f"{_path(key)}/{i}" for i in _out_of_order(old_steps, stayed_steps)}
        return moved


def _pair_operations(before: Recipe, after: Recipe) -> dict[OperationKey, OperationKey]:
    """Each after-operation's before-operation: same place first, then a unique id elsewhere."""
    before_keys = [(up.id, op.id) for up in before.unit_procedures for op in up.operations]
    after_keys = [(up.id, op.id) for up in after.unit_procedures for op in up.operations]
    known = set(before_keys)
    pairs = {key: key for key in after_keys if key in known}
    loose_before: dict[str, list[OperationKey]] = defaultdict(list)
    loose_after: dict[str, list[OperationKey]] = defaultdict(list)
    for key in before_keys:
        if key not in pairs:
            loose_before[key[1]].append(key)
    for key in after_keys:
        if key not in pairs:
            loose_after[key[1]].append(key)
    for operation_id, keys in loose_after.items():
        # An id left over more than once on a side names no one operation: leave them be.
        if len(keys) == 1 and len(loose_before.get(operation_id, ())) == 1:
            pairs[keys[0]] = loose_before[operation_id][0]
    return pairs


def _out_of_order(before: Sequence[Node], after: Sequence[Node]) -> set[Node]:
    """The nodes of ``after`` outside one longest run that keeps ``before``'s order.

    Both hold the same nodes; the run is a longest increasing subsequence of the after-order's
    positions in the before-order (patience sorting, n log n).
    """
    position = {node: i for i, node in enumerate(before)}
    sequence = [position[node] for node in after]
    tail_values: list[int] = []
    tail_indexes: list[int] = []
    previous = [-1] * len(sequence)
    for index, value in enumerate(sequence):
        length = bisect.bisect_left(tail_values, value)
        previous[index] = tail_indexes[length - 1] if length else -1
        if length == len(tail_values):
            tail_values.append(value)
            tail_indexes.append(index)
        else:
            tail_values[length] = value
            tail_indexes[length] = index
    kept: set[Node] = set()
    index = tail_indexes[-1] if tail_indexes else -1
    while index >= 0:
        kept.add(after[index])
        index = previous[index]
    return set(after) - kept


def _parameter_changes(path: str, before: Parameter, after: Parameter) -> Iterator[Change]:
    unit_changed = before.unit != after.unit
    if unit_changed:
        yield Change(ChangeKind.PARAMETER_UNIT_CHANGED, path, before.unit, after.unit)
    if before.target != after.target:
        yield Change(
            ChangeKind.PARAMETER_TARGET_CHANGED, path,
            _text(before.target), _text(after.target), "target",
        )
    for label, low, high in (("limits", "low", "high"),
                             ("alert limits", "alert_low", "alert_high")):
        change = _range_change(
            path, label, (low, high),
            (getattr(before, low), getattr(before, high)), before.unit,
            (getattr(after, low), getattr(after, high)), after.unit,
        )
        if change is not None:
            yield change
    if before.critical != after.critical:
        yield Change(
            ChangeKind.PARAMETER_CRITICALITY_CHANGED, path,
            _criticality(before.critical), _criticality(after.critical),
            "made critical" if after.critical else "no longer critical",
        )


Limits = tuple[Decimal | None, Decimal | None]


def _range_change(
    path: str, label: str, names: tuple[str, str],
    before: Limits, before_unit: str, after: Limits, after_unit: str,
) -> Change | None:
    """One change for a range whose low or high moved: tightened, widened or shifted (one
    side in, the other out); only "changed" when the unit changed, as nothing is converted."""
    if before == after:
        return None
    notes: list[tuple[str, str]] = []
    for name, was, now, narrows in (
        (names[0], before[0], after[0], _low_narrows),
        (names[1], before[1], after[1], _high_narrows),
    ):
        if was != now:
            direction = "tightened" if narrows(was, now) else "widened"
            notes.append((f"{name} {_limit(was)} → {_limit(now)}", direction))
    directions = {direction for _, direction in notes}
    if before_unit != after_unit:
        verdict = f"changed (unit {before_unit} → {after_unit}, not converted)"
        listed = ", ".join(note for note, _ in notes)
    elif len(directions) == 1:
        verdict = directions.pop()
        listed = ", ".join(note for note, _ in notes)
    else:
        verdict = "shifted"
        listed = ", ".join(f"{note} ({direction})" for note, direction in notes)
    return Change(
        ChangeKind.PARAMETER_LIMIT_CHANGED, path,
        _range_text(before, before_unit), _range_text(after, after_unit),
        f"{label} {verdict}: {listed}",
    )


def _low_narrows(was: Decimal | None, now: Decimal | None) -> bool:
    # A new lower limit narrows the range; dropping one widens it.
    return now is not None and (was is None or now > was)


def _high_narrows(was: Decimal | None, now: Decimal | None) -> bool:
    return now is not None and (was is None or now < was)


def _check_identities(recipe: Recipe, side: str) -> None:
    violations = Violations()
    procedure_ids: set[str] = set()
    step_ids: set[str] = set()
    for u, unit_procedure in enumerate(recipe.unit_procedures):
        up_path = f"{side}.unit_procedures[{u}]"
        if unit_procedure.id in procedure_ids:
            violations.add(
                f"{up_path}.id", f"unit procedure id {unit_procedure.id!r} is used twice"
            )
        procedure_ids.add(unit_procedure.id)
        operation_ids: set[str] = set()
        for o, operation in enumerate(unit_procedure.operations):
            op_path = f"{up_path}.operations[{o}]"
            if operation.id in operation_ids:
                violations.add(
                    f"{op_path}.id",
                    f"operation id {operation.id!r} is used twice in {unit_procedure.id}",
                )
            operation_ids.add(operation.id)
            for s, step in enumerate(operation.steps):
                step_path = f"{op_path}.steps[{s}]"
                if step.id in step_ids:
                    violations.add(f"{step_path}.id", f"step id {step.id!r} is used twice")
                step_ids.add(step.id)
                names: set[str] = set()
                for p, parameter in enumerate(step.parameters):
                    if parameter.name in names:
                        violations.add(
                            f"{step_path}.parameters[{p}].name",
                            f"parameter {parameter.name!r} appears twice in {step.id}",
                        )
                    names.add(parameter.name)
    violations.raise_if_any()


def _path(operation: OperationKey) -> str:
    return f"{operation[0]}/{operation[1]}"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _bound(value: Decimal | None) -> str:
    return "-" if value is None else str(value)


def _limit(value: Decimal | None) -> str:
    return "none" if value is None else str(value)


def _range_text(limits: Limits, unit: str) -> str:
    return f"[{_bound(limits[0])}, {_bound(limits[1])}] {unit}"


def _criticality(critical: bool) -> str:
    return "critical" if critical else "not critical"


def _describe(parameter: Parameter) -> str:
    """A parameter in one line: ``target 25 Cel, limits [20, 30], alert [21, 29], critical``."""
    parts = [
        f"target {_bound(parameter.target)} {parameter.unit}",
        f"limits [{_bound(parameter.low)}, {_bound(parameter.high)}]",
    ]
    if parameter.alert_low is not None or parameter.alert_high is not None:
        parts.append(f"alert [{_bound(parameter.alert_low)}, {_bound(parameter.alert_high)}]")
    if parameter.critical:
        parts.append("critical")
    return ", ".join(parts)
