"""Starts the live board of one site: ``python -m services.board`` (uvicorn on loopback)."""

from __future__ import annotations

import logging
from types import FrameType

import uvicorn
from starlette.applications import Starlette

from services.board.app import create_app
from services.board.settings import BoardSettings

SERVICE_NAME = "board"
# Seconds a stop waits for open pages' event streams before closing them.
SHUTDOWN_GRACE_S = 2


class BoardServer(uvicorn.Server):
    """uvicorn, ending the open pages' event streams as soon as it is told to stop (they would
    otherwise hold the stop for the whole grace)."""

    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self.board_app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        board = getattr(self.board_app.state, "board", None)
        if board is not None:
            board.stop_streams()
        super().handle_exit(sig, frame)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = BoardSettings()
    app = create_app(settings)
    config = uvicorn.Config(
        app, host=settings.http_host, port=settings.http_port,
        log_level="info", access_log=False, lifespan="on",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    BoardServer(config, app).run()


if __name__ == "__main__":
    main()
