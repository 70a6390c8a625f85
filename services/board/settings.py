"""The board's settings: the process's (``TWINLINE_``) plus where it listens and what it calls."""

from __future__ import annotations

from services.common.settings import Settings
from services.devstack.topology import BATCH_RECORDS, SITE_VIEW, grpc_address


class BoardSettings(Settings):
    http_host: str = "127.0.0.1"
    http_port: int = 50056
    # The site's batch records service, whose AuthenticationService checks the log-in; and its
    # site view, which the board reads. Empty: where `make run` serves them (the topology).
    batch_records_address: str = ""
    site_view_address: str = ""
    # Seconds between refreshes of the link state and the runs' latest readings (which are
    # not changes of WatchChanges); a change is pushed as it comes, without waiting.
    board_refresh_seconds: float = 2.0

    def login_target(self) -> str:
        return self.batch_records_address or grpc_address(
            self.registry, self.home_site, BATCH_RECORDS.name
        )

    def site_view_target(self) -> str:
        return self.site_view_address or grpc_address(
            self.registry, self.home_site, SITE_VIEW.name
        )
