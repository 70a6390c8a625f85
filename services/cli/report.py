"""``twinline report``: the printable records, as the services make them, written to a file.

    twinline report batch SYR-B-2026-00042              # → SYR-B-2026-00042-batch-record.pdf
    twinline report batch SYR-B-2026-00042 --out record.pdf --force
    twinline report coa SYR-S-2026-00012 --output json  # {"file": ..., "bytes": ..., "pages": ...}

The batch record comes from the batch's home site (BatchRecordService.GetBatchRecordReport),
the certificate of analysis from the lab site that issued it (DispositionService.GetCertificate):
the tool renders nothing itself, so every client gets the same document. An existing file is
never overwritten without ``--force``; the file appears whole or not at all.

Exit codes: 0 written; 1 the service refused (e.g. no such batch, no certificate yet);
2 bad arguments (among them an existing file without --force): nothing was fetched;
4 the service does not answer.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from pypdf import PdfReader
from pypdf.errors import PdfReadError
from twinline.batchrecords.v1 import batch_service_pb2 as batch_api
from twinline.batchrecords.v1.batch_service_pb2_grpc import BatchRecordServiceStub
from twinline.releasetesting.v1 import release_testing_service_pb2 as release_api
from twinline.releasetesting.v1.release_testing_service_pb2_grpc import DispositionServiceStub

from services.cli.common import (
    CALL_TIMEOUT_S,
    AddressOption,
    Exit,
    OutputOption,
    SiteOption,
    Target,
    UserOption,
    checked_output,
    console,
    fail,
    print_json,
)
from services.client.session import Session
from services.devstack.topology import BATCH_RECORDS, RELEASE_TESTING

report_app = typer.Typer(help="Printable records as PDF files.", no_args_is_help=True)

OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="The file to write; default: a name made from the id, here."),
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Replace the file if it exists.")
]


@report_app.command("batch")
def batch(
    batch: Annotated[str, typer.Argument(help="Batch id (SYR-B-2026-00042) or name.")],
    out: OutOption = None, force: ForceOption = False, site: SiteOption = None,
    user: UserOption = None, address: AddressOption = None, output: OutputOption = "text",
) -> None:
    """The executed batch record as PDF, from the batch's home site."""
    checked_output(output)
    batch_id = batch.removeprefix("batches/")
    path = _writable(out or Path(f"{batch_id}-batch-record.pdf"), force)
    target = Target(site, user, address, BATCH_RECORDS.name)

    async def work(session: Session) -> bytes:
        answer = await session.stub(BatchRecordServiceStub).GetBatchRecordReport(
            batch_api.GetBatchRecordReportRequest(batch=f"batches/{batch_id}"),
            metadata=session.metadata, timeout=CALL_TIMEOUT_S,
        )
        return answer.pdf  # type: ignore[no-any-return]

    _written(path, target.run(work), force, output)


@report_app.command("coa")
def coa(
    sample: Annotated[str, typer.Argument(help="Sample id (SYR-S-2026-00012) or name.")],
    out: OutOption = None, force: ForceOption = False, site: SiteOption = None,
    user: UserOption = None, address: AddressOption = None, output: OutputOption = "text",
) -> None:
    """The certificate of analysis of a sample, as its lab site issued and stored it."""
    checked_output(output)
    sample_id = sample.removeprefix("samples/").removesuffix("/certificate")
    path = _writable(out or Path(f"{sample_id}-certificate-of-analysis.pdf"), force)
    target = Target(site, user, address, RELEASE_TESTING.name)

    async def work(session: Session) -> bytes:
        answer = await session.stub(DispositionServiceStub).GetCertificate(
            release_api.GetCertificateRequest(name=f"samples/{sample_id}/certificate"),
            metadata=session.metadata, timeout=CALL_TIMEOUT_S,
        )
        return answer.pdf  # type: ignore[no-any-return]

    _written(path, target.run(work), force, output)


def _writable(path: Path, force: bool) -> Path:
    """``path``, refused (exit 2) before anything is fetched if it exists and may not be
    replaced, or if its folder does not exist."""
    if path.exists() and not force:
        fail(f"{path} exists: nothing was fetched (--force replaces it)", Exit.USAGE)
    if path.is_dir():
        fail(f"{path} is a folder: name a file with --out", Exit.USAGE)
    if not path.parent.is_dir():
        fail(f"no folder {path.parent} to write {path.name} in", Exit.USAGE)
    return path


def _written(path: Path, pdf: bytes, force: bool, output: str) -> None:
    """Writes ``pdf`` to ``path`` whole or not at all, and says what was written."""
    try:
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
    except PdfReadError as error:
        fail(f"the service's answer is not a readable PDF ({error}): nothing was written")
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".part"
    )
    try:
        os.fchmod(descriptor, 0o666 & ~_umask())  # as an ordinary new file, not mkstemp's 0600
        with os.fdopen(descriptor, "wb") as part:
            part.write(pdf)
            part.flush()
            os.fsync(part.fileno())
        if force:
            os.replace(temporary, path)
        else:
            # A link fails if the name was taken meanwhile: never a silent overwrite.
            os.link(temporary, path)
    except FileExistsError:
        fail(f"{path} appeared while the report was fetched: nothing was written", Exit.USAGE)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    if output == "json":
        print_json({"file": str(path), "bytes": len(pdf), "pages": pages})
    else:
        console.print(
            f"[green]✓[/green] wrote {path} ({pages} page{'s' if pages != 1 else ''}, "
            f"{len(pdf):,} bytes)", soft_wrap=True, highlight=False,
        )


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
