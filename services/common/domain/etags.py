"""Optimistic concurrency (AIP-154): a change names the etag it read; a stale one is ABORTED."""

from __future__ import annotations

from services.common.domain.errors import Aborted


def check_etag(name: str, current: str, given: str) -> None:
    """Raises Aborted (``ETAG_MISMATCH``) unless ``given`` is the resource's ``current`` etag."""
    if given != current:
        raise Aborted(
            "ETAG_MISMATCH", f"{name} changed since it was read (etag {given!r}, now "
            f"{current!r})", name=name, currentEtag=current,
        )
