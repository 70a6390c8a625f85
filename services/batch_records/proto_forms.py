"""The protobuf form of a domain object, made once per object.

A use case stores an aggregate's protobuf form and its event carries it; the servicer answers
with the same form. Domain objects are immutable, so the form made (or read) for one object
is kept, by the object's identity, for the next conversion of that object to take.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from google.protobuf import message

D = TypeVar("D")
P = TypeVar("P", bound=message.Message)


class ProtoForms(Generic[D, P]):
    """The protobuf forms of the last few domain objects converted or read. A form kept here
    is shared: nobody may change it (copy it first)."""

    def __init__(self, make: Callable[[D], P], limit: int = 16) -> None:
        self._make = make
        self._limit = limit
        # id → (object, form): holding the object keeps its id from being reused meanwhile.
        self._forms: dict[int, tuple[D, P]] = {}

    def __call__(self, value: D) -> P:
        found = self._forms.get(id(value))
        if found is not None and found[0] is value:
            return found[1]
        form = self._make(value)
        self.remember(value, form)
        return form

    def remember(self, value: D, form: P) -> None:
        """``form`` is what ``value`` was read from."""
        if len(self._forms) >= self._limit:
            self._forms.clear()
        self._forms[id(value)] = (value, form)
