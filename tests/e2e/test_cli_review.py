"""``twinline review``: QA reviews a batch record by exception from the terminal, against the
real services (each command logs in over gRPC; passwords are typed at hidden prompts)."""

from __future__ import annotations

import asyncio
import json
import os

from typer.testing import CliRunner, Result

from services.cli.app import app
from services.devstack.demo_users import demo_password
from services.devstack.topology import BATCH_RECORDS
from tests.support import batches
from tests.support.batches import effective_master, s1, s2
from tests.support.nats_harness import free_port
from tests.support.stack import Stack, stack_fixture

# Only batch_records runs at each site: nothing here reads a site view.
batch_records_only = stack_fixture(services=[BATCH_RECORDS.name])

QA_PASSWORD = demo_password("qa")


async def review(stack: Stack, *args: str, typed: tuple[str, ...] = (QA_PASSWORD,),
                 address: str | None = None) -> Result:
    """``twinline review <args>`` as syracuse.qa, ``typed`` answering the password prompts."""
    command = [
        "review", *args, "--site", "syracuse", "--user", "syracuse.qa",
        "--address", address or stack.address("syracuse", BATCH_RECORDS.name),
    ]
    env = {"TWINLINE_SITES_FILE": str(stack.registry_file)}
    # In a thread: the command runs its own event loop, as it does from a shell.
    return await asyncio.to_thread(
        CliRunner().invoke, app, command, input="".join(f"{line}\n" for line in typed), env=env
    )


async def test_qa_sees_what_needs_a_decision_decides_it_and_approves(stack: Stack) -> None:
    master = await effective_master(stack)
    operator = await stack.login("syracuse", "operator")
    batch = await batches.create_batch(await stack.login("syracuse", "mes"), master)
    await batches.record(operator, batch, s1())  # S1 needs a verifier: nobody verifies it
    await batches.record(operator, batch, s2())
    await batches.complete_and_submit(await stack.login("syracuse", "reviewer"), batch)

    listed = await review(stack, "list")
    assert listed.exit_code == 0, listed.output
    assert batch.batch_id in listed.output
    assert "…" not in listed.output  # CliRunner's console is 80 columns wide
    as_json = await review(stack, "list", "--output", "json")
    assert as_json.exit_code == 0, as_json.output
    waiting = json.loads(as_json.stdout)["batches"]
    assert [(b["batch_id"], b["open_exceptions"]) for b in waiting] == [(batch.batch_id, ["EX-1"])]

    shown = await review(stack, "show", batch.batch_id)
    assert shown.exit_code == 0, shown.output
    assert "requires verification and was not verified" in shown.output
    assert "needs a decision before approval: EX-1" in shown.output

    refused = await review(stack, "approve", batch.batch_id, typed=(QA_PASSWORD, QA_PASSWORD))
    assert refused.exit_code == 1, refused.output
    assert "EXCEPTION_NOT_DISPOSITIONED" in refused.output
    assert "EX-1" in refused.output

    decided = await review(
        stack, "disposition", batch.batch_id, "EX-1", "--reason",
        "verifier called away; step re-checked from the log", typed=(QA_PASSWORD, QA_PASSWORD),
    )
    assert decided.exit_code == 0, decided.output
    assert "EX-1 dispositioned" in decided.output

    shown = await review(stack, "show", batch.name)
    assert "ready for QA's decision" in shown.output
    shown = await review(stack, "show", batch.name, "--output", "json")
    exception = json.loads(shown.stdout)["exceptions"][0]
    assert (exception["id"], exception["disposition"]["signer"]) == ("EX-1", "syracuse.qa")

    approved = await review(
        stack, "approve", batch.batch_id, "--reason", "released to QC",
        typed=(QA_PASSWORD, QA_PASSWORD),
    )
    assert approved.exit_code == 0, approved.output
    assert "BATCH_STATE_APPROVED" in approved.output
    assert "(syracuse.qa)" in approved.output

    listed = await review(stack, "list")
    assert "waiting for review" in listed.output


async def test_qa_rejects_with_a_reason(stack: Stack) -> None:
    master = await effective_master(stack)
    operator = await stack.login("syracuse", "operator")
    batch = await batches.create_batch(await stack.login("syracuse", "mes"), master)
    await batches.record(operator, batch, s1())
    await batches.verify(await stack.login("syracuse", "verifier"), batch, "S1")
    await batches.record(operator, batch, s2())
    await batches.complete_and_submit(await stack.login("syracuse", "reviewer"), batch)

    no_reason = await review(stack, "reject", batch.batch_id)
    assert no_reason.exit_code == 2  # the option is required: nothing was asked or sent
    # For automation: the signing password from a file descriptor, the answer as JSON.
    read, write = os.pipe()
    os.write(write, f"{QA_PASSWORD}\n".encode())
    os.close(write)
    try:
        rejected = await review(
            stack, "reject", batch.batch_id, "--reason", "lot L-DL-0042 recalled by supplier",
            "--password-fd", str(read), "--output", "json",
        )
    finally:
        os.close(read)
    assert rejected.exit_code == 0, rejected.output
    assert json.loads(rejected.stdout)["state"] == "BATCH_STATE_REJECTED"


async def test_a_wrong_password_or_a_stopped_site_is_said_plainly(stack: Stack) -> None:
    wrong = await review(stack, "list", typed=("not the password",))
    assert wrong.exit_code == 1
    assert "INVALID_CREDENTIALS" in wrong.output

    nobody = await review(stack, "list", address=f"127.0.0.1:{free_port()}")
    assert nobody.exit_code == 4  # the service does not answer
    assert "does not answer" in nobody.output

    unknown = await review(stack, "show", "SYR-B-2026-99999")
    assert unknown.exit_code == 1
    assert "NOT_FOUND" in unknown.output


async def test_a_decision_the_batch_cannot_take_is_refused_before_the_signing_password(
    stack: Stack,
) -> None:
    master = await effective_master(stack)
    batch = await batches.create_batch(await stack.login("syracuse", "mes"), master)

    early = await review(stack, "approve", batch.batch_id, typed=(QA_PASSWORD,))
    assert early.exit_code == 1, early.output
    assert "only a batch record in review can be approved" in early.output
    assert "Re-enter your password" not in early.output

    missing = await review(
        stack, "disposition", batch.batch_id, "EX-9", "--reason", "r", typed=(QA_PASSWORD,)
    )
    assert missing.exit_code == 1, missing.output
    assert "no exception EX-9" in missing.output
    assert "Re-enter your password" not in missing.output
