#!/usr/bin/env python3
"""Writes the FIDO metadata fixtures tests/metadata.rs uses: a stand-in
for FIDO's root (a CA), a BLOB signing certificate it issued, one that
expired, and a second root that issued nothing here. Each signing key's
P-256 private scalar is written too (32 bytes), so the test signs BLOBs
(ES256) as FIDO would.

Run from anywhere: .venv/bin/python tests/vectors/mds/make.py
(cryptography comes with moto).
"""
import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

OUT = Path(__file__).resolve().parent
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
END = START + datetime.timedelta(days=365 * 100)


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def cert(subject, key, issuer, issuer_key, ca, start=START, end=END):
    return (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def write(file, c):
    (OUT / file).write_bytes(c.public_bytes(serialization.Encoding.DER))


def write_key(file, key):
    (OUT / file).write_bytes(key.private_numbers().private_value.to_bytes(32, "big"))


root_key = ec.generate_private_key(ec.SECP256R1())
root = cert("Test FIDO MDS Root", root_key, "Test FIDO MDS Root", root_key, True)
write("fido-root.der", root)

signer_key = ec.generate_private_key(ec.SECP256R1())
write("signer.der", cert("mds.test", signer_key, "Test FIDO MDS Root", root_key, False))
write_key("signer.key", signer_key)

expired_key = ec.generate_private_key(ec.SECP256R1())
expired = cert(
    "mds.test (expired)",
    expired_key,
    "Test FIDO MDS Root",
    root_key,
    False,
    start=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc),
    end=datetime.datetime(2021, 1, 1, tzinfo=datetime.timezone.utc),
)
write("signer-expired.der", expired)
write_key("signer-expired.key", expired_key)

other_key = ec.generate_private_key(ec.SECP256R1())
write("other-root.der", cert("Another Root", other_key, "Another Root", other_key, True))
