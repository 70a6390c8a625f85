"""``twinline sample``: the samples of both sites' labs (from the site view), a sample's
results against their specification limits, and the second analyst's review of its results
at the lab's site, e-signed: the password is entered again at signing (21 CFR 11.200).

    twinline sample list --awaiting-review
    twinline sample results SYR-S-2026-00001
    twinline sample review SYR-S-2026-00001 --decision approve --reason "chromatograms checked"
    twinline sample review SYR-S-2026-00001 --result 2 --decision approve --reason "ok" \\
        --password-fd 3 3<secret

Exit codes: 0 done, 1 the service refused or the review cannot be signed (nothing awaits it,
or you entered the result: a second analyst reviews it), 2 bad arguments (e.g. another
site's sample, or --decision reject: the service records reviews only), 4 a service does not
answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from twinline.common.v1 import signature_pb2
from twinline.releasetesting.v1 import release_testing_service_pb2 as api
from twinline.releasetesting.v1 import sample_pb2 as pb
from twinline.releasetesting.v1.release_testing_service_pb2_grpc import SampleServiceStub
from twinline.siteview.v1 import site_view_service_pb2 as view
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub

from services.cli.common import (
    CALL_TIMEOUT_S,
    LIST_PAGE_SIZE,
    AddressOption,
    Exit,
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
from services.devstack.topology import RELEASE_TESTING, SITE_VIEW

sample_app = typer.Typer(help="Samples of both sites' labs, their results and their review.",
                         no_args_is_help=True)

SampleArgument = Annotated[str, typer.Argument(help="Sample id (SYR-S-2026-00001) or name.")]


class ReviewDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


def sample_name(sample: str) -> str:
    return sample if sample.startswith("samples/") else f"samples/{sample}"


def result_number(result: pb.Result) -> int:
    return int(result.name.rpartition("/")[2])


def current(assignment: pb.Assignment) -> pb.Result | None:
    """The assignment's newest result that is not invalidated."""
    valid = [r for r in assignment.results if r.state != pb.RESULT_STATE_INVALIDATED]
    return valid[-1] if valid else None


def awaiting_review(sample: pb.Sample) -> list[tuple[pb.Assignment, pb.Result]]:
    return [(a, r) for a in sample.assignments for r in a.results
            if r.state == pb.RESULT_STATE_ENTERED]


def state_of(sample: pb.Sample) -> str:
    """What a sample is waiting for, in a few words."""
    if sample.complete:
        if any(v.verdict == pb.SAMPLE_VERDICT_DOES_NOT_CONFORM for v in sample.verdicts):
            return "complete, does not conform"
        return "complete, conforms"
    waiting = len(awaiting_review(sample))
    missing = sum(1 for a in sample.assignments if current(a) is None)
    parts = [f"{waiting} awaiting review"] if waiting else []
    parts += [f"{missing} of {len(sample.assignments)} untested"] if missing else []
    return ", ".join(parts) or "in testing"


def oos(sample: pb.Sample) -> bool:
    return any(j.verdict == pb.VERDICT_FAIL for a in sample.assignments
               if (r := current(a)) is not None for j in r.judgements)


@sample_app.command("list")
def list_samples(
    awaiting: Annotated[bool, typer.Option(
        "--awaiting-review", help="Only samples with a result waiting for its review.")] = False,
    lab: Annotated[str | None, typer.Option(
        "--lab", help="Only the samples of this site's lab (default: both sites).")] = None,
    batch: Annotated[str | None, typer.Option("--batch", help="Only this batch's samples.")]
    = None,
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    output: OutputOption = "text",
) -> None:
    """The samples of both sites' labs, as this site's view holds them."""
    checked_output(output)
    target = Target(site, user, address, SITE_VIEW.name)

    async def work(session: Session) -> list[pb.Sample]:
        found: list[pb.Sample] = []
        token = ""
        while True:
            page = await session.stub(SiteViewServiceStub).ListSamples(
                view.ListSamplesRequest(
                    site=lab or "", page_size=LIST_PAGE_SIZE, page_token=token,
                    batch="" if batch is None else
                    batch if batch.startswith("batches/") else f"batches/{batch}"),
                metadata=session.metadata, timeout=CALL_TIMEOUT_S)
            found.extend(page.samples)
            token = page.next_page_token
            if not token:
                return found

    samples = [s for s in target.run(work) if not awaiting or awaiting_review(s)]
    if output == "json":
        print_json({"site": target.site, "samples": [
            {"site": s.home_site, "sample": s.name, "batch": s.batch, "product": s.product,
             "state": state_of(s), "complete": s.complete,
             "awaiting_review": [r.name for _, r in awaiting_review(s)], "oos": oos(s)}
            for s in samples]})
        return
    if not samples:
        console.print("no sample awaits review" if awaiting else "no samples")
        return
    table = Table(title=f"Samples, as {target.site}'s site view holds them")
    table.add_column("site", no_wrap=True)
    table.add_column("sample", no_wrap=True)
    table.add_column("batch", no_wrap=True)
    table.add_column("state", overflow="fold")
    for found in samples:
        state = state_of(found) + (" · [red]OOS[/red]" if oos(found) else "")
        table.add_row(found.home_site, found.name.removeprefix("samples/"),
                      found.batch.removeprefix("batches/"), state)
    console.print(table)


@sample_app.command("results")
def results(sample: SampleArgument, site: SiteOption = None, user: UserOption = None,
            address: AddressOption = None, output: OutputOption = "text") -> None:
    """Every result of a sample (of either site): value, unit, specification limits,
    pass or OOS, and who entered and reviewed it."""
    checked_output(output)
    target = Target(site, user, address, SITE_VIEW.name)

    async def work(session: Session) -> pb.Sample:
        answer = await session.stub(SiteViewServiceStub).GetSample(
            view.GetSampleRequest(name=sample_name(sample)), metadata=session.metadata,
            timeout=CALL_TIMEOUT_S)
        return answer.sample

    found = target.run(work)
    if output == "json":
        print_json({**as_dict(found), "state": state_of(found)})
        return
    console.print(f"{found.name.removeprefix('samples/')} · {found.home_site} lab · "
                  f"{found.product} · batch {found.batch.removeprefix('batches/')} · "
                  f"{state_of(found)}", soft_wrap=True, highlight=False, markup=False)
    for verdict in found.verdicts:
        console.print(f"  {verdict.specification}: "
                      f"{_enum_words(pb.SampleVerdict.Name(verdict.verdict), 'SAMPLE_VERDICT_')}",
                      soft_wrap=True, highlight=False, markup=False)
    table = Table()
    table.add_column("test", overflow="fold")
    table.add_column("#", no_wrap=True, justify="right")
    table.add_column("value", no_wrap=True, justify="right")
    table.add_column("unit", no_wrap=True)
    table.add_column("limits", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    table.add_column("state", no_wrap=True)
    for assignment in found.assignments:
        criteria = {(t.specification, t.test_id): t.criterion_text for t in assignment.applied}
        if not assignment.results:
            table.add_row(escape(assignment.attribute), "", "—", escape(assignment.unit),
                          escape("; ".join(criteria.values())), "", "no result")
        for result in assignment.results:
            for judgement in result.judgements:
                table.add_row(
                    escape(assignment.attribute), str(result_number(result)),
                    escape(_value(result, judgement)), escape(result.unit or assignment.unit),
                    escape(criteria.get((judgement.specification, judgement.test_id), "")),
                    _verdict(judgement), _result_state(result))
    console.print(table)
    for assignment in found.assignments:
        for result in assignment.results:
            signed = "; ".join(f"{_meaning(s)} by {s.printed_name} ({s.signer}) {utc(s.sign_time)}"
                               for s in result.signatures)
            console.print(f"  #{result_number(result)} {assignment.attribute}: {signed}"
                          + (f" · invalidated: {result.invalidation_reason}"
                             if result.invalidation_reason else ""),
                          soft_wrap=True, highlight=False, markup=False)


@sample_app.command("review")
def review(
    sample: SampleArgument,
    decision: Annotated[ReviewDecision, typer.Option(
        "--decision", help="approve: sign each result as reviewed.")],
    reason: Annotated[str, typer.Option("--reason", help="What you checked (required).")],
    result: Annotated[list[int] | None, typer.Option(
        "--result", help="Only this result number (repeatable); default: every result "
        "awaiting review.")] = None,
    site: SiteOption = None, user: UserOption = None, address: AddressOption = None,
    password_fd: PasswordFdOption = None, output: OutputOption = "text",
) -> None:
    """The second analyst's review of a sample's results, e-signed, at the lab's site."""
    checked_output(output)
    if decision is ReviewDecision.REJECT:
        fail("a result is not rejected at review: the service records a second analyst's "
             "review only; an OOS result is invalidated only by its investigation (twinline "
             "oos show); nothing was sent", Exit.USAGE)
    target = Target(site, user, address, RELEASE_TESTING.name)
    at_home(target, sample_name(sample), "reviewed")

    async def work(session: Session) -> tuple[pb.Sample, list[pb.Result]]:
        stub = session.stub(SampleServiceStub)
        found = (await stub.GetSample(api.GetSampleRequest(name=sample_name(sample)),
                                      metadata=session.metadata, timeout=CALL_TIMEOUT_S)).sample
        chosen = _reviewable(found, result or (), target.user)
        signed = signature("reviewed", reason, password_fd)
        reviewed: list[pb.Result] = []
        for assignment, entered in chosen:
            answer = await stub.ReviewResult(
                api.ReviewResultRequest(request_id=str(uuid.uuid4()), result=entered.name,
                                        etag=found.etag, signature=signed),
                metadata=session.metadata, timeout=CALL_TIMEOUT_S)
            found = answer.sample
            reviewed.append(answer.result)
            if output == "text":
                last = answer.result.signatures[-1]
                console.print(f"[green]✓[/green] #{result_number(answer.result)} "
                              f"{escape(assignment.attribute)} reviewed: signed by "
                              f"{escape(last.printed_name)} ({last.signer}) at "
                              f"{utc(last.sign_time)}", soft_wrap=True,
                              highlight=False)
        return found, reviewed

    after, reviewed = target.run(work)
    if output == "json":
        print_json({"sample": after.name, "state": state_of(after), "complete": after.complete,
                    "reviewed": [as_dict(r) for r in reviewed]})
        return
    console.print(f"{after.name.removeprefix('samples/')}: {state_of(after)}")


def _reviewable(sample: pb.Sample, numbers: Sequence[int],
                user: str) -> list[tuple[pb.Assignment, pb.Result]]:
    """The results to review, or the command ends saying why none can be signed (before the
    password is asked for; the service still checks every rule)."""
    waiting = awaiting_review(sample)
    label = sample.name.removeprefix("samples/")
    if numbers:
        unknown = [n for n in numbers if n not in {result_number(r) for _, r in waiting}]
        if unknown:
            listed = ", ".join(f"#{result_number(r)}" for _, r in waiting) or "none"
            fail(f"{label} has no result {', '.join(f'#{n}' for n in unknown)} awaiting "
                 f"review (awaiting: {listed}); nothing was signed")
        waiting = [(a, r) for a, r in waiting if result_number(r) in numbers]
    if not waiting:
        fail(f"no result of {label} awaits review; nothing was signed")
    own = [(a, r) for a, r in waiting if r.signatures and r.signatures[0].signer == user]
    if own:
        fail(f"{user} entered " + ", ".join(f"#{result_number(r)} ({a.attribute})" for a, r in own)
             + ": a second analyst reviews a result; nothing was signed")
    return waiting


def _value(result: pb.Result, judgement: pb.Judgement) -> str:
    if result.below_loq:
        return "< LOQ"
    return judgement.reportable or result.outcome or ", ".join(result.replicates)


def _verdict(judgement: pb.Judgement) -> str:
    flags = [_enum_words(pb.Flag.Name(flag), "FLAG_") for flag in judgement.flags]
    text = "[red]FAIL (OOS)[/red]" if judgement.verdict == pb.VERDICT_FAIL else "pass"
    return " · ".join([text, *flags])


def _result_state(result: pb.Result) -> str:
    return _enum_words(pb.ResultState.Name(result.state), "RESULT_STATE_")


def _meaning(signed: signature_pb2.Signature) -> str:
    return _enum_words(signature_pb2.SignatureMeaning.Name(signed.meaning), "SIGNATURE_MEANING_")


def _enum_words(enum_name: str, prefix: str) -> str:
    return enum_name.removeprefix(prefix).lower().replace("_", " ")

