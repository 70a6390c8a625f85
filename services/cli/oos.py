"""``twinline oos``: an OOS investigation of either site's lab, as this site's view holds it —
its state, phase I (the laboratory's hypotheses, the causes found), phase II (manufacturing
review, the plan, the conclusion), the follow-up results and every signature.

    twinline oos show SYR-OOS-2026-00001
    twinline oos show SYR-OOS-2026-00001 --output json

Exit codes: 0 done, 1 the service refused (or no such investigation), 2 bad arguments, 4 the
service does not answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

import typer
from twinline.common.v1 import signature_pb2
from twinline.releasetesting.v1 import investigation_pb2 as pb
from twinline.siteview.v1 import site_view_service_pb2 as view
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub

from services.cli.common import (
    CALL_TIMEOUT_S,
    LIST_PAGE_SIZE,
    AddressOption,
    OutputOption,
    SiteOption,
    Target,
    UserOption,
    as_dict,
    checked_output,
    fail,
    owning_site,
    pages,
    print_json,
    utc,
)
from services.cli.record_text import say, words
from services.client.session import Session
from services.devstack.topology import SITE_VIEW

oos_app = typer.Typer(help="OOS investigations of both sites' labs.", no_args_is_help=True)

InvestigationArgument = Annotated[
    str, typer.Argument(help="Investigation id (SYR-OOS-2026-00001) or name.")]


def investigation_name(investigation: str) -> str:
    if investigation.startswith("investigations/"):
        return investigation
    return f"investigations/{investigation}"



@oos_app.command("show")
def show(investigation: InvestigationArgument, site: SiteOption = None,
         user: UserOption = None, address: AddressOption = None,
         output: OutputOption = "text") -> None:
    """An investigation's phases, hypotheses, conclusions and signatures."""
    checked_output(output)
    name = investigation_name(investigation)
    target = Target(site, user, address, SITE_VIEW.name)

    async def work(session: Session) -> pb.Investigation | None:
        # The view lists investigations by home site: only that site's are read.
        stub = session.stub(SiteViewServiceStub)
        async for page in pages(lambda token: stub.ListInvestigations(
            view.ListInvestigationsRequest(site=owning_site(name) or "",
                                           page_size=LIST_PAGE_SIZE, page_token=token),
            metadata=session.metadata, timeout=CALL_TIMEOUT_S,
        )):
            found = next((i for i in page.investigations if i.name == name), None)
            if found is not None:
                return found
        return None

    found = target.run(work)
    if found is None:
        fail(f"{target.site}'s site view holds no investigation {name.partition('/')[2]}")
    if output == "json":
        print_json(as_dict(found))
        return
    say(f"{found.name.partition('/')[2]} · {found.home_site} · "
        f"{words(pb.InvestigationState.Name(found.state), 'INVESTIGATION_STATE_')}")
    say(f"  the OOS result {found.result} of batch {found.batch.partition('/')[2]}; opened "
        f"{utc(found.create_time)}, updated {utc(found.update_time)}")
    one = found.phase_one
    say("Phase I (laboratory)")
    if not one.HasField("conclude_time"):
        say("  under way: no conclusion yet")
    else:
        found_cause = "an assignable laboratory cause found" if one.assignable_cause_found \
            else "no assignable laboratory cause"
        say(f"  concluded {utc(one.conclude_time)}: {found_cause}")
        _causes(one.causes)
        if one.summary:
            say(f"  summary: {one.summary}")
    two = found.phase_two
    if found.HasField("phase_two"):
        say("Phase II (full-scale)")
        if two.manufacturing_review:
            say(f"  manufacturing review: {two.manufacturing_review}")
        if two.plan:
            say(f"  plan: {words(pb.PlanKind.Name(two.plan), 'PLAN_KIND_')}, "
                f"{two.replicates} replicates")
        if two.HasField("conclude_time"):
            verdict = "OOS confirmed" if two.oos_confirmed else "original result invalid"
            say(f"  concluded {utc(two.conclude_time)}: {verdict}")
            _causes(two.causes)
            if two.conclusion:
                say(f"  conclusion: {two.conclusion}")
    if found.follow_up_results:
        say(f"Follow-up results: {', '.join(found.follow_up_results)}")
    say(f"Signatures ({len(found.signatures)})" if found.signatures else "no signatures yet")
    for signed in found.signatures:
        meaning = words(signature_pb2.SignatureMeaning.Name(signed.meaning),
                        "SIGNATURE_MEANING_")
        say(f"  {meaning} by {signed.printed_name} ({signed.signer}, {signed.role}) at "
            f"{utc(signed.sign_time)}" + (f": {signed.reason}" if signed.reason else ""))



def _causes(causes: Iterable[pb.Cause]) -> None:
    """Each cause (phase I: the hypotheses the laboratory confirmed) with its category."""
    for cause in causes:
        say(f"  • {words(pb.CauseCategory.Name(cause.category), 'CAUSE_CATEGORY_')}: "
            f"{cause.description}")
