"""Fixtures shared by the suite: real nats-servers per site, and the whole two-site system."""

from tests.support.nats_harness import nats_sites, start_nats_sites
from tests.support.stack import stack

__all__ = ["nats_sites", "stack", "start_nats_sites"]
