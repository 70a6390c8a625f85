"""The shared kernel: settings, sites, database, outbox, inbox, audit, auth, errors, bootstrap."""
