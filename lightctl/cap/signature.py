"""XML-DSig for senders whose certificate the operator pinned: unsigned or badly signed is
refused, and only what the signature covers is read (no signature-wrapping)."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from lightctl.cap.xmlread import CapRefused

WHERE = ("alert", "Signature")


def verify_pinned(data: bytes, signed: bool, form: str, sender: str, cert_file: Path) -> bytes:
    """The bytes of the signed alert, or ``CapRefused`` naming why the signature fails.

    ``data`` must already have passed the hardened parser (no DOCTYPE, entities, XInclude)."""
    from signxml.exceptions import InvalidInput, InvalidSignature
    from signxml.verifier import XMLVerifier

    if form != "xml" or not signed:
        raise CapRefused.single(
            WHERE, f"missing: sender {sender} is pinned to a certificate; unsigned is refused"
        )
    try:
        cert = cert_file.read_text(encoding="ascii")
    except OSError as exc:
        raise CapRefused.single(WHERE, f"the pinned certificate cannot be read: {exc}") from None
    try:
        result = XMLVerifier().verify(data, x509_cert=cert)
    except (InvalidSignature, InvalidInput) as exc:
        raise CapRefused.single(
            WHERE, f"does not verify against the certificate pinned for {sender}: {exc}"
        ) from None
    results = result if isinstance(result, list) else [result]
    signed_root = results[0].signed_xml
    if signed_root is None or etree.QName(signed_root).localname != "alert":
        raise CapRefused.single(WHERE, "must sign the whole alert (an enveloped signature)")
    out: bytes = etree.tostring(signed_root, xml_declaration=True, encoding="UTF-8")
    return out
