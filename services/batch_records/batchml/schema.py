"""Reading a BatchML document safely and validating it against the MESA B2MML V0701 schema
shipped in ../b2mml; every refusal names the line and the problem."""

from __future__ import annotations

import functools
import io
import itertools
import re
from pathlib import Path
from typing import Any

import xmlschema
from lxml import etree
from xmlschema.exceptions import XMLResourceForbidden, XMLResourceParseError

from services.batch_records.batchml.vocabulary import B2MML, ROOTS, WBF_BATCHML
from services.common.domain.errors import FieldViolation, InvalidArgument

SCHEMA_FILE = (
    Path(__file__).resolve().parent.parent / "b2mml" / "Schema" / "BatchML-BatchInformation.xsd"
)
FIELD = "document"
# A refusal lists this many schema errors in full and counts the rest (up to MAX_COUNTED).
LISTED_ERRORS = 10
MAX_COUNTED = 100_000
# lxml builds the tree (it keeps source lines); xmlschema has refused DTD entities before it.
_SAFE_ITERPARSE = functools.partial(
    etree.iterparse, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)
_CLARK_NAMESPACE = re.compile(r"\{[^}]*\}")
_LXML_POSITION = re.compile(r", line \d+, column \d+.*$")
# libxml2's advice to programmers ("use XML_PARSE_HUGE option"), not the document's problem.
_LXML_HINT = re.compile(
    r",?\s*(?:try|use)\s+(?:the\s+)?XML_PARSE_\w+(?:\s+option)?", re.IGNORECASE
)
# The validator's Python names in a reason ("for <class 'elementpath...DateTime10'>").
_PYTHON_NAME = re.compile(r"\s*(?:for\s+)?<class '[^']*'>|\s*(?:for\s+)?\bXsd\w+\([^)]*\)")


def invalid(line: int | None, problem: str) -> InvalidArgument:
    """The one refusal of a document: a single violation of field "document"."""
    where = f"line {line}: " if line else ""
    return InvalidArgument(
        [FieldViolation(FIELD, where + problem)],
        message=f"invalid BatchML document: {where}{problem}",
    )


@functools.cache
def schema() -> xmlschema.XMLSchema:
    """BatchInformation and every B2MML file it includes, loaded once (about a second)."""
    return xmlschema.XMLSchema(str(SCHEMA_FILE), allow="sandbox")


def read(document: bytes) -> Any:
    """The root element (lxml) of a well-formed document with a BatchML root, in V0701 names.

    A document in the WBF BatchML V02 namespace is renamed into V0701 in place, so that it is
    validated against the V0701 schema with its own line numbers.
    """
    if not document.strip():
        raise invalid(None, "is empty: a BatchML MasterRecipe XML document is required")
    root = _parse(document)
    namespace, name = _split(root.tag)
    if namespace not in (B2MML, WBF_BATCHML) or name not in ROOTS:
        raise invalid(
            root.sourceline,
            f"root element '{name}' in namespace '{namespace}' is not a BatchML "
            f"{' or '.join(ROOTS)} ({B2MML} or {WBF_BATCHML})",
        )
    if namespace == WBF_BATCHML:
        _rename_namespace(root, WBF_BATCHML, B2MML)
    return root


def validate(root: Any) -> None:
    """Raises InvalidArgument listing the first LISTED_ERRORS schema errors (line, problem,
    element path) and the total count; one violation of field "document" per listed error."""
    resource = xmlschema.XMLResource(root, allow="none")
    listed: list[tuple[int | None, str]] = []
    total = 0
    for error in itertools.islice(schema().iter_errors(resource), MAX_COUNTED):
        total += 1
        if len(listed) < LISTED_ERRORS:
            listed.append(_describe(error))
    if not total:
        return
    if total == 1:
        raise invalid(*listed[0])
    counted = f"{total}{'+' if total == MAX_COUNTED else ''}"
    lines = [f"line {line}: {problem}" if line else problem for line, problem in listed]
    shown = "all" if total == len(listed) else f"the first {len(listed)}"
    raise InvalidArgument(
        [FieldViolation(FIELD, text) for text in lines],
        message=f"invalid BatchML document: {counted} schema errors, {shown} listed: "
        + "; ".join(lines),
    )


def _parse(document: bytes) -> Any:
    try:
        resource = xmlschema.XMLResource(
            io.BytesIO(document), allow="none", defuse="always", iterparse=_SAFE_ITERPARSE
        )
    except XMLResourceForbidden as forbidden:
        raise invalid(
            _line_of(document, b"<!ENTITY", b"<!DOCTYPE"),
            f"{forbidden}: DTD entities and external references are not accepted",
        ) from None
    except XMLResourceParseError as error:
        cause = error.__cause__
        line = getattr(cause, "lineno", None) or 1
        message = getattr(cause, "msg", None) or str(cause or error)
        message = _LXML_HINT.sub("", _LXML_POSITION.sub("", message)).strip()
        raise invalid(line, f"not well-formed XML: {message}") from None
    return resource.root


def _describe(error: xmlschema.XMLSchemaValidationError) -> tuple[int | None, str]:
    """(line, problem) of a schema error, in local names, ending with the element's path in
    the document; elements are lxml's, with lines."""
    element = error.elem
    name = _local(getattr(element, "tag", ""))
    where = f" (at {_path(element)})" if element is not None else ""
    if isinstance(error, xmlschema.XMLSchemaChildrenValidationError):
        expected = " or ".join(f"'{_local(tag)}'" for tag in error.expected_tags)
        child = error.invalid_child
        if child is not None:
            problem = f"element '{_local(child.tag)}' is not expected in '{name}'"
            if expected:
                problem += f"; {expected} expected"
            return getattr(child, "sourceline", None), f"{problem} (at {_path(child)})"
        return error.sourceline, f"element '{name}' is incomplete: {expected} expected{where}"
    reason = _PYTHON_NAME.sub("", _CLARK_NAMESPACE.sub("", error.reason or "not valid"))
    return error.sourceline, f"element '{name}': {reason}{where}"


def _path(element: Any) -> str:
    """/MasterRecipe/RecipeElement[2]/ID: local names, a position where siblings share one."""
    steps = []
    while element is not None and hasattr(element, "getparent"):
        parent = element.getparent()
        step = _local(element.tag)
        if parent is not None:
            same = [child for child in parent if child.tag == element.tag]
            if len(same) > 1:
                step += f"[{same.index(element) + 1}]"
        steps.append(step)
        element = parent
    return "/" + "/".join(reversed(steps))


def _rename_namespace(root: Any, old: str, new: str) -> None:
    prefix = f"{{{old}}}"
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith(prefix):
            element.tag = f"{{{new}}}{element.tag[len(prefix):]}"


def _split(tag: str) -> tuple[str, str]:
    namespace, _, name = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    return namespace, name


def _local(tag: str) -> str:
    return _split(tag)[1]


def _line_of(document: bytes, *markers: bytes) -> int:
    """The line of the first of markers found in document (1 if none is)."""
    for marker in markers:
        position = document.find(marker)
        if position >= 0:
            return document.count(b"\n", 0, position) + 1
    return 1
