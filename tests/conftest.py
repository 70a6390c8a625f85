"""Fixtures shared by the suite: real nats-servers per site, the whole two-site system, a
throwaway PostgreSQL server, and the backend suites' databases."""

from tests.support.databases import database_url, directory, engine, kernel_engine, writer
from tests.support.nats_harness import nats_sites, start_nats_sites
from tests.support.one_site import start_one_site
from tests.support.postgres import postgres_database, postgres_server, postgres_url
from tests.support.stack import stack

__all__ = [
    "database_url", "directory", "engine", "kernel_engine", "nats_sites", "postgres_database",
    "postgres_server", "postgres_url", "stack", "start_nats_sites", "start_one_site", "writer",
]
