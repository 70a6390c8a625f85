"""ConjugationRunService: translates requests to use cases and results to responses."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import grpc
from google.protobuf import message
from twinline.conjugation.v1 import run_service_pb2 as api
from twinline.conjugation.v1 import run_service_pb2_grpc as api_grpc

from services.batch_records.batches.names import batch_id_of
from services.common.domain import bounds, spc
from services.common.domain.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    Violations,
)
from services.common.domain.roles import Role
from services.common.grpc.auth import current_principal
from services.common.grpc.paging import decode_position, page_of_keyed, page_size_of
from services.common.grpc.rpc import SiteWriting, mutate, rpc_method
from services.common.grpc.transitions import require_etag
from services.common.persistence.database import read_session
from services.common.persistence.unit_of_work import UnitOfWork
from services.conjugation.projection import repository as projection
from services.conjugation.runs import domain, handlers
from services.conjugation.runs import repository as run_repository
from services.conjugation.runs.names import run_id_of
from services.conjugation.runs.translate import (
    ATTRIBUTE_FROM_PROTO,
    CHARGE_FROM_PROTO,
    PHASE_FROM_PROTO,
    amount_of,
    calculation_to_proto,
    compute,
    inputs_from_proto,
    lots_from_proto,
    run_to_proto,
)

R = TypeVar("R", bound=message.Message)
TREND_ROLES = (Role.QA, Role.QC_ANALYST, Role.SUPERVISOR, Role.PROCESS_ENGINEER)
RULE_SETS = {
    api.RULE_SET_UNSPECIFIED: spc.WESTERN_ELECTRIC, api.RULE_SET_WESTERN_ELECTRIC:
    spc.WESTERN_ELECTRIC, api.RULE_SET_NELSON: spc.NELSON,
}
DEFAULT_BASELINE = 20
MAX_BASELINE = 1000


def _tolerances(request: api.CreateRunRequest, violations: Violations) -> tuple[
    Decimal, Decimal, Decimal
]:
    return (
        domain.tolerance("charge_tolerance_percent", request.charge_tolerance_percent,
                         domain.DEFAULT_CHARGE_TOLERANCE, violations),
        domain.tolerance("dar_sum_tolerance", request.dar_sum_tolerance,
                         domain.DEFAULT_DAR_SUM_TOLERANCE, violations),
        domain.tolerance("dar_mean_tolerance", request.dar_mean_tolerance,
                         domain.DEFAULT_DAR_MEAN_TOLERANCE, violations),
    )


def _enum(field: str, number: int, known: dict[Any, Any]) -> Any:
    value = known.get(number)
    if value is None:
        raise InvalidArgument([FieldViolation(field, "is required")])
    return value


class ConjugationRunServicer(SiteWriting, api_grpc.ConjugationRunServiceServicer):
    @rpc_method
    async def CreateRun(
        self, request: api.CreateRunRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateRunResponse:
        principal = self._writer_principal(*domain.CREATOR_ROLES)
        batch_id = batch_id_of(request.batch)
        violations = Violations()
        lots = lots_from_proto(request.inputs, violations)
        tolerances = _tolerances(request, violations)
        inputs = inputs_from_proto(request.inputs)
        try:
            compute(inputs)  # every bad input named before anything is written
        except InvalidArgument as error:
            violations.items.extend(error.violations)
        violations.raise_if_any()
        return await mutate(
            self._writer, request=request, response_type=api.CreateRunResponse,
            command=lambda uow: api.CreateRunResponse(run=run_to_proto(handlers.create(
                uow, principal=principal, site_code=self._site.code, batch_id=batch_id,
                inputs=inputs, lots=lots, phase_steps=list(request.phase_steps),
                acceptance=list(request.acceptance), tolerances=tolerances,
            ))),
        )

    @rpc_method
    async def GetRun(
        self, request: api.GetRunRequest, context: grpc.aio.ServicerContext
    ) -> api.GetRunResponse:
        current_principal()
        run_id = run_id_of(request.name, "name")
        with read_session(self._engine) as session:
            return api.GetRunResponse(run=handlers.get(session, run_id))

    @rpc_method
    async def ListRuns(
        self, request: api.ListRunsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListRunsResponse:
        current_principal()
        size = page_size_of(request.page_size, default=50, maximum=500)
        after = decode_position(request.page_token, int)
        batch_id = batch_id_of(request.batch) if request.batch else None
        with read_session(self._engine) as session:
            rows = run_repository.page(
                session, batch_id=batch_id, after=None if after is None else after[0],
                size=size + 1,
            )
        page, token = page_of_keyed(rows, size)
        return api.ListRunsResponse(runs=page, next_page_token=token)

    @rpc_method
    async def ComputeCharges(
        self, request: api.ComputeChargesRequest, context: grpc.aio.ServicerContext
    ) -> api.ComputeChargesResponse:
        current_principal()
        figures = compute(inputs_from_proto(request.inputs))
        return api.ComputeChargesResponse(
            calculations=[calculation_to_proto(figure) for figure in figures]
        )

    async def _change(
        self, request: Any, roles: tuple[Role, ...], response_type: type[R],
        use_case: Callable[..., domain.Run], **arguments: object,
    ) -> R:
        """A change of the run ``request.name`` names, at ``request.etag``."""
        principal = self._writer_principal(*roles)
        run_id = run_id_of(request.name, "name")
        require_etag(request.etag)

        def command(uow: UnitOfWork) -> R:
            run = use_case(uow, principal=principal, run_id=run_id, etag=request.etag,
                           **arguments)
            return response_type(run=run_to_proto(run))

        return await mutate(self._writer, request=request, response_type=response_type,
                            command=command)

    @rpc_method
    async def RecordCharge(
        self, request: api.RecordChargeRequest, context: grpc.aio.ServicerContext
    ) -> api.RecordChargeResponse:
        kind = _enum("kind", request.kind, CHARGE_FROM_PROTO)
        violations = Violations()
        bounds.text("lot_id", request.lot_id, bounds.ID_LEN, violations, required=True)
        violations.raise_if_any()
        return await self._change(
            request, domain.RECORDER_ROLES, api.RecordChargeResponse, handlers.record_charge,
            kind=kind, actual=amount_of(request.actual), lot_id=request.lot_id,
        )

    @rpc_method
    async def StartPhase(
        self, request: api.StartPhaseRequest, context: grpc.aio.ServicerContext
    ) -> api.StartPhaseResponse:
        phase = _enum("phase", request.phase, PHASE_FROM_PROTO)
        return await self._change(
            request, domain.RECORDER_ROLES, api.StartPhaseResponse, handlers.start_phase,
            phase=phase,
        )

    @rpc_method
    async def EndPhase(
        self, request: api.EndPhaseRequest, context: grpc.aio.ServicerContext
    ) -> api.EndPhaseResponse:
        phase = _enum("phase", request.phase, PHASE_FROM_PROTO)
        violations = Violations()
        parameters = {}
        for index, parameter in enumerate(request.parameters):
            path = f"parameters[{index}]"
            bounds.text(f"{path}.name", parameter.name, bounds.NAME_LEN, violations,
                        required=True)
            if parameter.name in parameters:
                violations.add(f"{path}.name", f"{parameter.name!r} is given twice")
            parameters[parameter.name] = amount_of(parameter.value)
        violations.raise_if_any()
        return await self._change(
            request, domain.RECORDER_ROLES, api.EndPhaseResponse, handlers.end_phase,
            phase=phase, parameters=parameters,
        )

    @rpc_method
    async def RecordResults(
        self, request: api.RecordResultsRequest, context: grpc.aio.ServicerContext
    ) -> api.RecordResultsResponse:
        violations = Violations()
        values = {}
        for index, value in enumerate(request.values):
            attribute = ATTRIBUTE_FROM_PROTO.get(value.attribute)
            if attribute is None or attribute is domain.Attribute.YIELD:
                violations.add(f"values[{index}].attribute", "must be a recorded attribute "
                               "(the yield is computed from protein_out)")
            elif attribute in values:
                violations.add(f"values[{index}].attribute", f"{attribute.value} twice")
            else:
                values[attribute] = amount_of(value.value)
        violations.raise_if_any()
        return await self._change(
            request, domain.RESULT_ROLES, api.RecordResultsResponse, handlers.record_results,
            dar_distribution=list(request.dar_distribution), values=values,
            protein_out=amount_of(request.protein_out),
        )

    @rpc_method
    async def GetTrend(
        self, request: api.GetTrendRequest, context: grpc.aio.ServicerContext
    ) -> api.GetTrendResponse:
        current_principal()
        violations = Violations()
        bounds.text("product", request.product, bounds.NAME_LEN, violations, required=True)
        attribute = ATTRIBUTE_FROM_PROTO.get(request.attribute)
        if attribute is None:
            violations.add("attribute", "is required")
        rules = RULE_SETS.get(request.rule_set)
        if rules is None:
            violations.add("rule_set", "is not a known rule set")
        baseline = request.baseline_points or DEFAULT_BASELINE
        if not 2 <= baseline <= MAX_BASELINE:
            violations.add("baseline_points", f"must be 2 ... {MAX_BASELINE}")
        if request.same_side_run < 0:
            violations.add("same_side_run", "must not be negative")
        violations.raise_if_any()
        assert attribute is not None and rules is not None
        with read_session(self._engine) as session:
            points = projection.trend(session, request.product, attribute.value)
        return _trend(points, rules, baseline, request.same_side_run)


def _trend(
    points: list[Any], rules: tuple[spc.Rule, ...], baseline: int, same_side_run: int
) -> api.GetTrendResponse:
    values = [Decimal(point.value) for point in points]
    response = api.GetTrendResponse(unit=points[0].unit if points else "")
    if len(values) < 2:
        response.points.extend(_trend_point(point, ()) for point in points)
        return response
    try:
        limits = spc.baseline_limits(values[:baseline])
    except ValueError as error:  # a baseline without variation: no chart yet
        raise FailedPrecondition("TREND_HAS_NO_VARIATION", str(error)) from None
    rule_set = spc.RuleSet(rules)
    if same_side_run:
        rule_set = spc.RuleSet(rules, {spc.Rule.WE4: same_side_run,
                                       spc.Rule.NELSON2: same_side_run})
    judged = spc.evaluate(values, limits, rule_set)
    response.center = str(limits.centre)
    response.upper_control_limit = str(limits.line(3))
    response.lower_control_limit = str(limits.line(-3))
    response.sigma = str(limits.sigma)
    response.points.extend(
        _trend_point(point, judged_point.broken) for point, judged_point in zip(
            points, judged, strict=True
        )
    )
    return response


def _trend_point(point: Any, rules: Any) -> api.TrendPoint:
    return api.TrendPoint(
        run=f"conjugationRuns/{point.run_id}", site=point.site,
        batch=f"batches/{point.batch_id}", value=point.value,
        rules=[str(rule) for rule in rules], record_time=point.record_time,
    )
