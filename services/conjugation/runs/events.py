"""The events of conjugation runs."""

from __future__ import annotations

from twinline.events.v1 import conjugation_events_pb2 as events

from services.common.persistence.event_spec import EventSpec
from services.conjugation.event_spec import declare

CREATED = declare("run", "created", events.RunCreated,
                  "A conjugation run was created for a batch in progress at its site.")
CHARGE_RECORDED = declare("run", "charge_recorded", events.RunChargeRecorded,
                          "An actual charge (reducing agent, drug-linker, quench) was recorded.")
CHARGE_OUT_OF_TOLERANCE = declare(
    "run", "charge_out_of_tolerance", events.RunChargeOutOfTolerance,
    "A recorded charge differs from its computed figure by more than the run's tolerance; "
    "batch_records raises an exception on the batch.",
)
PHASE_STARTED = declare("run", "phase_started", events.RunPhaseStarted,
                        "A phase of the run started (only ever the next one).")
PHASE_ENDED = declare("run", "phase_ended", events.RunPhaseEnded,
                      "A phase ended, with its parameters judged against the step's limits.")
PARAMETER_OUT_OF_LIMITS = declare(
    "run", "parameter_out_of_limits", events.RunParameterOutOfLimits,
    "A phase parameter is outside its master-record limits; batch_records raises an "
    "exception on the batch.",
)
RESULTS_RECORDED = declare("run", "results_recorded", events.RunResultsRecorded,
                           "The in-process results were recorded, each judged.")
RESULT_OUT_OF_RANGE = declare(
    "run", "result_out_of_range", events.RunResultOutOfRange,
    "An in-process result is outside the run's acceptance range; batch_records raises an "
    "exception on the batch.",
)
COMPLETED = declare("run", "completed", events.RunCompleted,
                    "Purification ended: the run is complete.")

DECLARED: tuple[EventSpec, ...] = (
    CREATED, CHARGE_RECORDED, CHARGE_OUT_OF_TOLERANCE, PHASE_STARTED, PHASE_ENDED,
    PARAMETER_OUT_OF_LIMITS, RESULTS_RECORDED, RESULT_OUT_OF_RANGE, COMPLETED,
)
