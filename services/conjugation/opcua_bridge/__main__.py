"""``python -m services.conjugation.opcua_bridge --config bridge.toml``: streams a plant's
OPC UA nodes into a run's process readings until SIGTERM or Ctrl-C.

Exit codes: 0 stopped, 2 a bad configuration (the message names each bad field).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from services.conjugation.opcua_bridge.bridge import run_bridge
from services.conjugation.opcua_bridge.config import BridgeConfig, ConfigError, load_config
from services.conjugation.opcua_bridge.plant import NodesRefused

app = typer.Typer(add_completion=False)


@app.command()
def main(
    config: Annotated[Path, typer.Option(help="The bridge's TOML file (see config.py).")],
) -> None:
    """Stream the configured OPC UA nodes into the run's readings, buffering on disk."""
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("asyncua").setLevel(logging.WARNING)
    try:
        settings = load_config(config)
        settings.password()  # a missing password is a configuration error, said now
        asyncio.run(_until_signalled(settings))
    except (ConfigError, NodesRefused) as exc:
        typer.echo(f"opcua_bridge: {exc}", err=True)
        raise typer.Exit(2) from exc


async def _until_signalled(settings: BridgeConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    await run_bridge(settings, stop)


if __name__ == "__main__":
    app()
