"""Which site keeps a record, from the code its id starts with (SYR-B-2026-00042,
SDO-MBR-000001): a site's batch_records holds only its own, the site view every site's."""

from __future__ import annotations

from services.cli.common import Exit, fail
from services.common.settings import Settings
from services.common.sites import UnknownSiteError


def require_own(record_id: str, site: str | None) -> None:
    """Ends the command (exit 2, nothing sent) when ``record_id`` is another site's: this
    site's batch_records would only answer NOT_FOUND; the site view (``--view``) has it."""
    settings = Settings(site=site) if site else Settings()
    code = record_id.removeprefix("batches/").removeprefix("masterBatchRecords/").split("-")[0]
    try:
        owner = settings.registry.by_code(code)
    except UnknownSiteError:
        return  # not a site's code: the service says what is wrong with the id
    if owner.id != settings.site:
        fail(f"{record_id} is {owner.id}'s: {settings.site}'s batch_records keeps only its own "
             "records; add --view to read it from the site view", Exit.USAGE)
