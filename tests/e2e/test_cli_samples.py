"""``twinline sample list|results|review``, ``twinline oos show`` and ``twinline release``
against real batch_records, release_testing and site view services at both sites: Syracuse's
samples as Songdo's view shows them, the second analyst's review, the OOS investigation a
failing result opened, and QA's disposition refused with every unmet condition, then made."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from twinline.batchrecords.v1 import batch_pb2
from twinline.releasetesting.v1 import investigation_pb2 as inv_pb
from twinline.releasetesting.v1 import sample_pb2 as pb
from typer.testing import CliRunner, Result

from services.cli.app import app
from services.devstack.demo_users import demo_password
from services.devstack.topology import BATCH_RECORDS, RELEASE_TESTING, SITE_VIEW
from tests.support import batches, samples
from tests.support import specifications as specs
from tests.support.nats_harness import NatsSites
from tests.support.stack import Stack, write_default_registry
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]
SITE = "syracuse"
VIEW_DEADLINE_S = 90
SIGNING_PROMPT = "Re-enter your password"


@dataclass
class Lab:
    stack: Stack
    # Its four results entered by syracuse.analyst, none reviewed; monomer 90.0 % is OOS.
    tested: pb.Sample
    investigation: inv_pb.Investigation
    # Every result passed and reviewed, its batch record approved: ready for release.
    ready: pb.Sample
    ready_batch: batch_pb2.Batch


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def lab(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Lab]:
    base = tmp_path_factory.mktemp("cli-samples")
    registry = write_default_registry(base / "sites.toml")
    stack = Stack(base, registry, NatsSites(base / "nats", registry),
                  (BATCH_RECORDS.name, SITE_VIEW.name, RELEASE_TESTING.name))
    try:
        await stack.start()
        await specs.effective(stack, SITE, specs.release_specification())
        tested = await samples.create_sample(stack, SITE, await samples.batch_at(stack, SITE))
        analyst = await stack.login(SITE, "analyst", RELEASE_TESTING.name)
        investigation = None
        given = {**samples.PASSING, "monomer": {"replicates": ("90.0",)}}
        for attribute, values in given.items():
            entered = await samples.enter(analyst, tested, attribute, **values)  # type: ignore[arg-type]
            tested = entered.sample
            if entered.HasField("investigation"):
                investigation = entered.investigation
        assert investigation is not None
        ready_batch = await samples.batch_at(stack, SITE)
        ready = await samples.all_passed_and_reviewed(
            stack, SITE, await samples.create_sample(stack, SITE, ready_batch))
        await batches.approved(stack, SITE, ready_batch)
        yield Lab(stack, tested, investigation, ready, ready_batch)
    finally:
        await stack.close()


async def twinline(lab: Lab, site: str, job: str, service: str, *args: str,
                   signing: str | None = None, password_fd: str | None = None) -> Result:
    """``twinline <args>`` as ``site``'s ``job`` at its ``service``: the login password typed,
    then ``signing`` at the signing prompt (if given) or the signing password written to a
    pipe passed as --password-fd (if ``password_fd``)."""
    command = [*args, "--site", site, "--user", f"{site}.{job}",
               "--address", lab.stack.address(site, service)]
    typed = f"{demo_password(job)}\n" + (f"{signing}\n" if signing is not None else "")
    env = {"TWINLINE_SITES_FILE": str(lab.stack.registry_file)}
    if password_fd is None:
        return await asyncio.to_thread(CliRunner().invoke, app, command, input=typed, env=env)
    read, write = os.pipe()
    os.write(write, f"{password_fd}\n".encode())
    os.close(write)
    try:
        return await asyncio.to_thread(CliRunner().invoke, app,
                                       [*command, "--password-fd", str(read)], input=typed,
                                       env=env)
    finally:
        os.close(read)


def document(result: Result) -> dict[str, object]:
    assert result.exit_code == 0, result.output
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


def sample_id(sample: pb.Sample) -> str:
    return sample.name.removeprefix("samples/")


async def test_songdo_lists_syracuse_samples_and_shows_their_results(lab: Lab) -> None:
    tested, ready = sample_id(lab.tested), sample_id(lab.ready)

    async def both_listed() -> Result | None:
        listed = await twinline(lab, "songdo", "qa", SITE_VIEW.name, "sample", "list")
        return listed if tested in listed.output and ready in listed.output else None

    listed = await wait_until(both_listed, VIEW_DEADLINE_S, interval=0.5,
                              message="Songdo's view never listed Syracuse's samples")
    assert "complete, conforms" in listed.output
    assert "4 awaiting review" in listed.output and "OOS" in listed.output
    assert "…" not in listed.output  # CliRunner's console is 80 columns wide

    awaiting = await twinline(lab, "songdo", "qa", SITE_VIEW.name, "sample", "list",
                              "--awaiting-review", "--output", "json")
    rows = document(awaiting)["samples"]
    assert [(row["site"], row["sample"], row["oos"], len(row["awaiting_review"]))  # type: ignore[index]
            for row in rows] == [("syracuse", lab.tested.name, True, 4)]  # type: ignore[attr-defined]

    shown = await twinline(lab, "songdo", "qa", SITE_VIEW.name, "sample", "results", tested)
    assert shown.exit_code == 0, shown.output
    assert "…" not in shown.output
    dar = next(line for line in shown.output.splitlines() if "average DAR" in line)
    assert "4.0" in dar and "pass" in dar and "entered" in dar
    monomer = next(line for line in shown.output.splitlines() if "monomer" in line)
    assert "90.0" in monomer and "%" in monomer and "FAIL (OOS)" in monomer
    assert "< LOQ" in shown.output
    assert "executed by Tomás Herrera" in shown.output

    as_json = document(await twinline(lab, "songdo", "qa", SITE_VIEW.name, "sample", "results",
                                      tested, "--output", "json"))
    assert as_json["home_site"] == "syracuse"
    assert len(as_json["assignments"]) == 4  # type: ignore[arg-type]

    unknown = await twinline(lab, "songdo", "qa", SITE_VIEW.name, "sample", "results",
                             "SYR-S-2026-99999")
    assert unknown.exit_code == 1
    assert "NOT_FOUND" in unknown.output


async def test_a_second_analyst_reviews_the_results_by_prompt_and_by_password_fd(
    lab: Lab,
) -> None:
    tested = sample_id(lab.tested)
    own = await twinline(lab, SITE, "analyst", RELEASE_TESTING.name, "sample", "review", tested,
                         "--decision", "approve", "--reason", "checked")
    assert own.exit_code == 1, own.output
    assert "a second analyst reviews a result; nothing was signed" in own.output
    assert SIGNING_PROMPT not in own.output

    rejected = await twinline(lab, SITE, "analyst2", RELEASE_TESTING.name, "sample", "review",
                              tested, "--decision", "reject", "--reason", "no")
    assert rejected.exit_code == 2
    assert "nothing was sent" in rejected.output
    no_reason = await twinline(lab, SITE, "analyst2", RELEASE_TESTING.name, "sample", "review",
                               tested, "--decision", "approve")
    assert no_reason.exit_code == 2
    elsewhere = await twinline(lab, "songdo", "analyst2", RELEASE_TESTING.name, "sample",
                               "review", tested, "--decision", "approve", "--reason", "ok")
    assert elsewhere.exit_code == 2, elsewhere.output
    assert "--site syracuse" in elsewhere.output

    first = await twinline(lab, SITE, "analyst2", RELEASE_TESTING.name, "sample", "review",
                           tested, "--result", "1", "--decision", "approve",
                           "--reason", "chromatograms checked",
                           signing=demo_password("analyst2"))
    assert first.exit_code == 0, first.output
    assert SIGNING_PROMPT in first.output
    assert "#1 average DAR reviewed: signed by Aisha Rahman" in first.output
    assert "3 awaiting review" in first.output

    rest = await twinline(lab, SITE, "analyst2", RELEASE_TESTING.name, "sample", "review",
                          tested, "--decision", "approve", "--reason", "checked",
                          "--output", "json", password_fd=demo_password("analyst2"))
    reviewed = document(rest)
    assert SIGNING_PROMPT not in rest.output
    assert reviewed["complete"] is True and reviewed["state"] == "complete, does not conform"
    assert [r["state"] for r in reviewed["reviewed"]] == ["RESULT_STATE_REVIEWED"] * 3  # type: ignore[attr-defined]

    wrong = await twinline(lab, SITE, "analyst2", RELEASE_TESTING.name, "sample", "review",
                           sample_id(lab.ready), "--decision", "approve", "--reason", "again")
    assert wrong.exit_code == 1
    assert "awaits review; nothing was signed" in wrong.output


async def test_the_oos_investigation_shows_its_phases_and_signatures(lab: Lab) -> None:
    analyst = await lab.stack.login(SITE, "analyst", RELEASE_TESTING.name)
    await samples.investigation_step(
        analyst, "ConcludePhaseOne", lab.investigation, "analyst",
        causes=[inv_pb.Cause(category=inv_pb.CAUSE_CATEGORY_INSTRUMENT,
                             description="detector lamp past its hours")],
        summary="lamp replaced; retest allowed")
    investigation = lab.investigation.name.removeprefix("investigations/")

    async def concluded() -> Result | None:
        shown = await twinline(lab, "songdo", "qa", SITE_VIEW.name, "oos", "show", investigation)
        return shown if "retest allowed" in shown.output else None

    shown = await wait_until(concluded, VIEW_DEADLINE_S, interval=0.5,
                             message="Songdo's view never showed phase I concluded")
    assert f"{investigation} · syracuse · retest allowed" in shown.output
    assert "an assignable laboratory cause found" in shown.output
    assert "• instrument: detector lamp past its hours" in shown.output
    assert "summary: lamp replaced; retest allowed" in shown.output
    assert "reviewed by Tomás Herrera" in shown.output
    assert "(syracuse.analyst, qc_analyst)" in shown.output

    as_json = document(await twinline(lab, "songdo", "qa", SITE_VIEW.name, "oos", "show",
                                      investigation, "--output", "json"))
    assert as_json["state"] == "INVESTIGATION_STATE_RETEST_ALLOWED"
    assert as_json["phase_one"]["causes"][0]["category"] == "CAUSE_CATEGORY_INSTRUMENT"  # type: ignore[index]

    unknown = await twinline(lab, "songdo", "qa", SITE_VIEW.name, "oos", "show",
                             "SYR-OOS-2026-99999")
    assert unknown.exit_code == 1
    assert "holds no investigation SYR-OOS-2026-99999" in unknown.output


async def test_qa_release_is_refused_with_every_unmet_condition_then_made(lab: Lab) -> None:
    blocked = lab.tested.batch.removeprefix("batches/")
    refused = await twinline(lab, SITE, "qa", RELEASE_TESTING.name, "release", blocked,
                             "--decision", "release", "--reason", "CoA reviewed",
                             signing=demo_password("qa"))
    assert refused.exit_code == 1, refused.output
    assert "RELEASE_CONDITIONS_UNMET" in refused.output
    assert "BATCH_RECORD_NOT_APPROVED" in refused.output
    assert "INVESTIGATION_OPEN" in refused.output and lab.investigation.name in refused.output

    held = document(await twinline(lab, SITE, "qa", RELEASE_TESTING.name, "release", blocked,
                                   "--decision", "hold", "--reason", "pending the OOS",
                                   "--output", "json", password_fd=demo_password("qa")))
    assert (held["decision"], held["signature"]["signer"]) == (  # type: ignore[index]
        "DISPOSITION_DECISION_ON_HOLD", "syracuse.qa")

    bad = await twinline(lab, SITE, "qa", RELEASE_TESTING.name, "release", blocked,
                         "--decision", "approve", "--reason", "r")
    assert bad.exit_code == 2
    elsewhere = await twinline(lab, "songdo", "qa", RELEASE_TESTING.name, "release", blocked,
                               "--decision", "release", "--reason", "r")
    assert elsewhere.exit_code == 2 and "--site syracuse" in elsewhere.output

    ready = lab.ready_batch.batch_id

    async def released() -> Result | None:
        # The batch record's approval reaches release testing by its event.
        answer = await twinline(lab, SITE, "qa", RELEASE_TESTING.name, "release", ready,
                                "--decision", "release", "--reason", "all tests pass",
                                password_fd=demo_password("qa"))
        if answer.exit_code == 1 and "BATCH_RECORD_NOT_APPROVED" in answer.output:
            return None
        return answer

    done = await wait_until(released, VIEW_DEADLINE_S, interval=0.5)
    assert done.exit_code == 0, done.output
    assert f"{ready} RELEASED: signed by Priya Raman" in done.output
    assert "(syracuse.qa)" in done.output
    assert "all tests pass" in done.output and "on 4 results" in done.output

    again = await twinline(lab, SITE, "qa", RELEASE_TESTING.name, "release", ready,
                           "--decision", "reject", "--reason", "late", "--output", "json")
    assert again.exit_code == 1
    assert "already RELEASED" in again.output and SIGNING_PROMPT not in again.output
