"""``twinline release``: QA's disposition of a batch at its home site — release, reject or hold,
e-signed with a reason (the password entered again at signing, 21 CFR 11.200). A refusal lists
every unmet condition: the batch record not approved, a deviation or an OOS investigation open,
a result missing or unreviewed.

    twinline release SYR-B-2026-00042 --decision release --reason "CoA reviewed"
    twinline release SYR-B-2026-00042 --decision reject --reason "OOS confirmed" \\
        --password-fd 3 3<secret

Exit codes: 0 decided, 1 refused (every unmet condition printed) or already decided, 2 bad
arguments (e.g. another site's batch: only its home site's QA disposes it), 4 the service does
not answer.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from twinline.releasetesting.v1 import disposition_pb2 as pb
from twinline.releasetesting.v1 import release_testing_service_pb2 as api
from twinline.releasetesting.v1.release_testing_service_pb2_grpc import DispositionServiceStub

from services.cli.common import (
    CALL_TIMEOUT_S,
    AddressOption,
    OutputOption,
    PasswordFdOption,
    SiteOption,
    Target,
    UserOption,
    as_dict,
    at_home,
    checked_output,
    console,
    fail,
    print_json,
    signature,
    utc,
)
from services.client.session import Session
from services.devstack.topology import RELEASE_TESTING


class Decision(StrEnum):
    RELEASE = "release"
    REJECT = "reject"
    HOLD = "hold"


DECISIONS = {
    Decision.RELEASE: pb.DISPOSITION_DECISION_RELEASED,
    Decision.REJECT: pb.DISPOSITION_DECISION_REJECTED,
    Decision.HOLD: pb.DISPOSITION_DECISION_ON_HOLD,
}
FINAL = (pb.DISPOSITION_DECISION_RELEASED, pb.DISPOSITION_DECISION_REJECTED)


def batch_name(batch: str) -> str:
    return batch if batch.startswith("batches/") else f"batches/{batch}"


def decided(decision: pb.DispositionDecision.ValueType) -> str:
    return pb.DispositionDecision.Name(decision).removeprefix("DISPOSITION_DECISION_")


def release(
    batch: Annotated[str, typer.Argument(
        help="The batch (its lot) to dispose: id (SYR-B-2026-00042) or name.")],
    decision: Annotated[Decision, typer.Option("--decision", help="release, reject or hold.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, in your words (required).")],
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    password_fd: PasswordFdOption = None, output: OutputOption = "text",
) -> None:
    """QA's disposition of a batch, e-signed; a refusal lists every unmet condition."""
    checked_output(output)
    target = Target(site, user, address, RELEASE_TESTING.name)
    name = batch_name(batch)
    at_home(target, name, "disposed")

    async def work(session: Session) -> pb.Disposition:
        stub = session.stub(DispositionServiceStub)
        earlier = (await stub.ListDispositions(
            api.ListDispositionsRequest(batch=name), metadata=session.metadata,
            timeout=CALL_TIMEOUT_S)).dispositions
        final = next((d for d in earlier if d.decision in FINAL), None)
        if final is not None:
            fail(f"{name.partition('/')[2]} is already {decided(final.decision)} "
                 f"({final.signature.printed_name}, {utc(final.decide_time)}): a release or a "
                 "rejection is final; nothing was signed")
        decision_words = decided(DECISIONS[decision]).lower().replace("_", " ")
        answer = await stub.DisposeBatch(
            api.DisposeBatchRequest(request_id=str(uuid.uuid4()), batch=name,
                                    decision=DECISIONS[decision],
                                    signature=signature(decision_words, reason, password_fd)),
            metadata=session.metadata, timeout=CALL_TIMEOUT_S)
        return answer.disposition

    disposition = target.run(work)
    if output == "json":
        print_json(as_dict(disposition))
        return
    signed = disposition.signature
    why = disposition.reason or signed.reason
    console.print(
        f"[green]✓[/green] {name.partition('/')[2]} {decided(disposition.decision)}: signed by "
        f"{escape(signed.printed_name)} ({signed.signer}) at {utc(signed.sign_time)}: "
        f"{escape(why)}",
        soft_wrap=True, highlight=False)
    if disposition.results:
        console.print(f"  on {len(disposition.results)} results: "
                      f"{', '.join(disposition.results)}", soft_wrap=True, highlight=False,
                      markup=False)
