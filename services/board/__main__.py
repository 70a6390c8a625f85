"""Starts the live board of one site: ``python -m services.board`` (uvicorn on loopback)."""

from __future__ import annotations

import logging

import uvicorn

from services.board.app import create_app
from services.board.settings import BoardSettings

SERVICE_NAME = "board"
# Seconds a stop waits for open pages' event streams before closing them.
SHUTDOWN_GRACE_S = 2


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = BoardSettings()
    config = uvicorn.Config(
        create_app(settings), host=settings.http_host, port=settings.http_port,
        log_level="info", access_log=False, lifespan="on",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
