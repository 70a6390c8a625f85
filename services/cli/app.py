"""The operator CLI: ``twinline login|logout`` (a site's token kept for later commands),
``twinline site`` (every site's link state and lag), ``twinline users …`` (a site's users),
``twinline audit verify``,
``twinline review …`` (QA's review by exception of batch records), ``twinline outbox status``,
``twinline view rebuild|checksum`` (the site view replayed from its stream, and its checksum),
``twinline trend`` (the control chart of a result attribute over both sites' runs),
``twinline mbr …`` (master batch records: list, show, diff, sign),
``twinline batch …`` (executed batch records: list, show, record and verify steps, approve),
``twinline events tail`` (both sites' events as they arrive, one line each),
``twinline report batch|coa`` (the batch record or a certificate of analysis as PDF),
``twinline run show|readings`` (a conjugation run of either site, and its process readings),
``twinline sample list|results|review`` (both sites' samples, their results, their review),
``twinline oos show`` (an OOS investigation of either site's lab),
``twinline release`` (QA's disposition of a batch, e-signed),
``twinline transfer list|show|accept|return`` (transfer packages, the receiving site's decision)."""

from __future__ import annotations

import typer

from services.cli.audit import audit_app
from services.cli.batch import batch_app
from services.cli.events import events_app
from services.cli.login import login, logout
from services.cli.mbr import mbr_app
from services.cli.oos import oos_app
from services.cli.outbox import outbox_app
from services.cli.release import release
from services.cli.report import report_app
from services.cli.review import review_app
from services.cli.run import run_app
from services.cli.sample import sample_app
from services.cli.site import site
from services.cli.transfer import transfer_app
from services.cli.trend import trend
from services.cli.users import users_app
from services.cli.view import view_app

app = typer.Typer(help="Twinline operator tooling.", no_args_is_help=True)
app.command("login")(login)
app.command("logout")(logout)
app.command("site")(site)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(review_app, name="review")
app.add_typer(outbox_app, name="outbox")
app.add_typer(view_app, name="view")
app.add_typer(events_app, name="events")
app.command("trend")(trend)
app.add_typer(mbr_app, name="mbr")
app.add_typer(batch_app, name="batch")
app.add_typer(report_app, name="report")
app.add_typer(run_app, name="run")
app.add_typer(sample_app, name="sample")
app.add_typer(oos_app, name="oos")
app.command("release")(release)
app.add_typer(transfer_app, name="transfer")

if __name__ == "__main__":
    app()
