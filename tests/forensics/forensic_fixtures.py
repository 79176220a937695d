"""Helpers for the forensics tests: JPEG bytes, a C2PA signing chain, tampering."""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "src" / "opendfa" / "assets" / "samples"
AI_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def jpeg_bytes(rgb: np.ndarray, quality: int, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality, **options)
    return buffer.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def launder(rgb: np.ndarray) -> np.ndarray:
    """Downscaled by 3/4 (area): removes the 8x8 grid of any earlier JPEG compression, so a
    JPEG made from it is compressed once."""
    import cv2

    return cv2.resize(rgb, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class SigningChain:
    root_pem: bytes
    chain_pem: bytes  # signing certificate, then the root
    key_pem: bytes


def _name(common_name: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OpenDFA Test CA"),
        ]
    )


def _key_usage(*, sign: bool, ca: bool):
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def make_signing_chain() -> SigningChain:
    """A root CA and an ES256 (P-256) signing certificate with the extensions C2PA checks:
    not a CA, digitalSignature, the emailProtection extended key usage."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = datetime.datetime.now(datetime.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(_name("OpenDFA Test Root"))
        .issuer_name(_name("OpenDFA Test Root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(sign=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("OpenDFA Test Signer"))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True, ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return SigningChain(
        root_pem=root.public_bytes(pem),
        chain_pem=leaf.public_bytes(pem) + root.public_bytes(pem),
        key_pem=key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


def sign_jpeg(data: bytes, chain: SigningChain, actions: list[dict], **manifest) -> bytes:
    """`data` with a C2PA manifest signed by `chain` (ES256), holding `actions`."""
    c2pa = pytest.importorskip("c2pa")
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(
            alg=b"es256", sign_cert=chain.chain_pem, private_key=chain.key_pem, ta_url=None
        )
    )
    definition = {
        "claim_generator_info": [{"name": "opendfa-tests", "version": "1.0"}],
        "title": "fixture.jpg",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}],
        **manifest,
    }
    signed = io.BytesIO()
    with c2pa.Builder(definition) as builder:
        builder.sign(signer, "image/jpeg", io.BytesIO(data), signed)
    return signed.getvalue()


def tamper_pixels(data: bytes) -> bytes:
    """Flip bytes of the entropy-coded picture after the last start-of-scan marker."""
    start = data.rfind(b"\xff\xda")
    changed = bytearray(data)
    for i in range(start + 300, start + 340):
        if changed[i] not in (0xFF, 0x00):  # keep markers and byte stuffing intact
            changed[i] ^= 0x11
    return bytes(changed)
