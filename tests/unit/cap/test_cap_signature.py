"""Pinned senders: a message signed with the pinned certificate is read (only what is signed);
unsigned, tampered or signed with another key is refused naming the Signature."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import methods
from signxml.signer import XMLSigner

from lightctl.cap.parse import parse_message
from lightctl.cap.signature import verify_pinned
from lightctl.cap.xmlread import CapRefused

ALERT = b"""<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>S-1</identifier><sender>DE-NW-BN-SE030</sender>
  <sent>2026-05-01T12:00:00+02:00</sent><status>Actual</status><msgType>Alert</msgType>
  <scope>Public</scope>
  <info><category>Safety</category><event>Brand</event><urgency>Immediate</urgency>
    <severity>Severe</severity><certainty>Observed</certainty><headline>Brand</headline></info>
</alert>"""


def _pair() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MoWaS test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def _signed(key: bytes, cert: bytes, body: bytes = ALERT) -> bytes:
    root = etree.fromstring(body)
    signer = XMLSigner(method=methods.enveloped, signature_algorithm="rsa-sha256")
    out: bytes = etree.tostring(signer.sign(root, key=key, cert=cert.decode()))
    return out


@pytest.fixture
def pinned(tmp_path: Path) -> tuple[bytes, bytes, Path]:
    key, cert = _pair()
    path = tmp_path / "mowas.pem"
    path.write_bytes(cert)
    return key, cert, path


def _verify(data: bytes, path: Path) -> bytes:
    m = parse_message(data)
    return verify_pinned(data, m.signed, m.form, m.sender, path)


def test_a_message_signed_with_the_pinned_certificate_is_read(
    pinned: tuple[bytes, bytes, Path],
) -> None:
    key, cert, path = pinned
    data = _signed(key, cert)
    assert parse_message(data).signed
    out = parse_message(_verify(data, path))
    assert out.identifier == "S-1"
    assert out.infos[0].headline == "Brand"


def test_unsigned_tampered_or_foreign_signatures_are_refused(
    pinned: tuple[bytes, bytes, Path],
) -> None:
    key, cert, path = pinned
    with pytest.raises(CapRefused, match=r"alert\.Signature: missing"):
        _verify(ALERT, path)
    tampered = _signed(key, cert).replace(b"<headline>Brand</headline>", b"<headline>Ok</headline>")
    with pytest.raises(CapRefused, match=r"alert\.Signature: does not verify"):
        _verify(tampered, path)
    other_key, other_cert = _pair()
    with pytest.raises(CapRefused, match=r"alert\.Signature: does not verify"):
        _verify(_signed(other_key, other_cert), path)


def test_nina_json_from_a_pinned_sender_is_refused(pinned: tuple[bytes, bytes, Path]) -> None:
    _key, _cert, path = pinned
    with pytest.raises(CapRefused, match="unsigned is refused"):
        verify_pinned(b"{}", False, "nina", "DE-NW-BN-SE030", path)
