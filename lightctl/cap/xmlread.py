"""Hardened reading of CAP XML and NINA JSON into one neutral shape: ``{name: [values]}``.

The XML parser never expands entities, never loads a DTD, never touches the network or a file,
and never runs XInclude; a DOCTYPE is refused before lxml sees the bytes, because lxml before
6.1.3 fetched external parameter entities even with ``resolve_entities=False``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from lightctl.errors import FieldProblem, InvalidRequest

CAP12_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP11_NS = "urn:oasis:names:tc:emergency:cap:1.1"
XINCLUDE_NS = ("http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude")
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

# The largest real message in the test data is 450 KB (an IPAWS alert carrying an mp3); a body
# over 1 MiB is refused before it is parsed (issue 16).
MAX_MESSAGE_BYTES = 1024 * 1024

# CAP elements that hold other elements; every other CAP element holds text only.
COMPOSITE = frozenset({"alert", "info", "eventCode", "parameter", "resource", "area", "geocode"})

# A neutral node: every child name maps to the list of its occurrences (text or a node).
Node = dict[str, list[Any]]

# lxml before 6.1.0 expanded external entities in iterparse by default (CVE-2026-41066) and
# fetched external parameter entities through 6.1.2: an older lxml (an unlocked install) is
# refused outright rather than trusted with options it may not honour.
MIN_LXML = (6, 1, 3)
if tuple(etree.LXML_VERSION[:3]) < MIN_LXML:
    raise ImportError(
        f"lightctl's CAP parser needs lxml >= {'.'.join(map(str, MIN_LXML))}, found "
        f"{etree.__version__}: pip install -c requirements.lock 'lxml>=6.1.3'"
    )

_DOCTYPE = re.compile(rb"<!\s*(doctype|entity)", re.IGNORECASE)


class CapRefused(InvalidRequest):
    """A CAP or NINA message that cannot be read as CAP 1.2; nothing was stored or played."""

    code = "cap_refused"

    @classmethod
    def single(cls, loc: tuple[str | int, ...], msg: str, value: Any = None) -> CapRefused:
        where = ".".join(str(p) for p in loc)
        return cls(f"{where}: {msg}" if where else msg, [FieldProblem(loc, msg, value)])


@dataclass(slots=True)
class RawMessage:
    """The message in the neutral shape, with what the reader noticed on the way."""

    root: Node
    version: str  # "1.2" or "1.1"
    form: str  # "xml" or "nina"
    signed: bool = False
    warnings: list[str] = field(default_factory=list)
    geojson: dict[str, Any] | None = None  # NINA's /warnings/{id}.geojson, when given


class _RefuseAll(etree.Resolver):  # type: ignore[misc]
    """Answers every external reference with nothing and remembers it was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def resolve(self, url: str, pubid: str, context: Any) -> Any:
        self.asked.append(str(url))
        return self.resolve_string("", context)


def _check_size(data: bytes) -> None:
    if len(data) > MAX_MESSAGE_BYTES:
        raise CapRefused.single(
            (), f"message has {len(data)} bytes; at most {MAX_MESSAGE_BYTES} (1 MiB) are read"
        )


def read_bytes(data: bytes, content_type: str = "") -> RawMessage:
    """XML or JSON, by content type or, without one, by the first character."""
    _check_size(data)
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    kind = content_type.split(";")[0].strip().lower()
    if kind.endswith("json") or (not kind.endswith("xml") and head in (b"{", b"[")):
        return read_json(data)
    if head != b"<" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CapRefused.single((), "body is neither CAP XML nor NINA JSON")
    return read_xml(data)


def safe_xml(data: bytes) -> tuple[Any, list[str]]:
    """Parse XML with every external reference refused: the root element and warnings about
    what was ignored (processing instructions, schema locations)."""
    _check_size(data)
    # NUL bytes dropped: a UTF-16 or UTF-32 DOCTYPE reads as ASCII then.
    if _DOCTYPE.search(data.replace(b"\x00", b"")):
        raise CapRefused.single(
            (), "DOCTYPE or ENTITY declarations are refused (CAP needs none; they enable XXE)"
        )
    resolver = _RefuseAll()
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        remove_comments=True,
        collect_ids=False,
    )
    parser.resolvers.add(resolver)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise CapRefused.single((), f"not well-formed XML: {exc.msg}") from None
    if resolver.asked:
        raise CapRefused.single((), "external references are refused", resolver.asked[0])
    tree = root.getroottree()
    if tree.docinfo.doctype:
        raise CapRefused.single((), "DOCTYPE is refused")
    warnings: list[str] = []
    for sibling in root.itersiblings(preceding=True):
        if isinstance(sibling, etree._ProcessingInstruction):
            warnings.append(f"processing instruction <?{sibling.target}?> ignored (never fetched)")
    for el in root.iter():
        if isinstance(el, etree._Entity):
            raise CapRefused.single((), f"entity reference &{el.name}; is refused")
        if isinstance(el, etree._ProcessingInstruction):
            warnings.append(f"processing instruction <?{el.target}?> ignored")
            continue
        if not isinstance(el.tag, str):
            continue
        ns = etree.QName(el).namespace
        if ns in XINCLUDE_NS:
            raise CapRefused.single((), "XInclude is refused", etree.QName(el).localname)
    for attr in (f"{{{XSI_NS}}}schemaLocation", f"{{{XSI_NS}}}noNamespaceSchemaLocation"):
        if root.get(attr) is not None:
            warnings.append(f"alert: {attr.split('}')[1]} ignored (never fetched)")
    return root, warnings


def read_xml(data: bytes) -> RawMessage:
    root, warnings = safe_xml(data)
    qname = etree.QName(root)
    if qname.localname != "alert":
        raise CapRefused.single((qname.localname,), "root element must be <alert>")
    if qname.namespace == CAP11_NS:
        version = "1.1"
        warnings.append("alert: CAP 1.1 namespace; read with the CAP 1.2 rules")
    elif qname.namespace != CAP12_NS:
        raise CapRefused.single(
            ("alert",),
            f"namespace {qname.namespace or '(none)'!r} is not CAP 1.2 ({CAP12_NS})",
            qname.namespace,
        )
    else:
        version = "1.2"
    raw = RawMessage({}, version, "xml", warnings=warnings)
    raw.root = _node(root, qname.namespace, raw, ("alert",))
    return raw


def _node(el: Any, ns: str, raw: RawMessage, loc: tuple[str | int, ...]) -> Node:
    out: Node = {}
    for child in el:
        if not isinstance(child.tag, str):
            continue
        q = etree.QName(child)
        if q.namespace == DSIG_NS and q.localname == "Signature":
            raw.signed = True
            continue
        if q.namespace != ns:
            continue  # CAP allows elements of other namespaces at the end of <alert>
        name = q.localname
        index = len(out.get(name, []))
        if name in COMPOSITE:
            value: Any = _node(child, ns, raw, (*loc, name, index))
        else:
            if any(isinstance(c.tag, str) for c in child):
                raise CapRefused.single((*loc, name, index), "must hold text, not elements")
            value = child.text or ""
        out.setdefault(name, []).append(value)
    return out


def read_json(data: bytes) -> RawMessage:
    """NINA's ``/warnings/{id}.json`` (CAP as JSON), optionally wrapped as
    ``{"warning": {...}, "geojson": {...}}`` with its ``/warnings/{id}.geojson``."""
    _check_size(data)
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CapRefused.single((), f"not valid JSON: {exc}") from None
    geojson = None
    if isinstance(doc, dict) and "warning" in doc:
        geojson = doc.get("geojson")
        doc = doc["warning"]
        if geojson is not None and not isinstance(geojson, dict):
            raise CapRefused.single(("geojson",), "must be a GeoJSON object")
    if not isinstance(doc, dict) or "identifier" not in doc:
        raise CapRefused.single(
            (), "NINA JSON must be one warning object with an 'identifier' (CAP as JSON)"
        )
    return RawMessage(_json_node(doc), "1.2", "nina", geojson=geojson)


def _json_node(obj: dict[str, Any]) -> Node:
    out: Node = {}
    for key, value in obj.items():
        items = value if isinstance(value, list) else [value]
        if key in COMPOSITE:
            out[key] = [_json_node(v) if isinstance(v, dict) else v for v in items]
        else:
            out[key] = [v if isinstance(v, str | dict) else _json_text(v) for v in items]
    return out


def _json_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value
