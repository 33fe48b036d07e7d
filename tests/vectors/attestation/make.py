#!/usr/bin/env python3
"""Writes the attestation certificate fixtures tests/attestation.rs uses:
a vendor root CA, an intermediate CA, an intermediate that is not a CA,
leaves (the attestation certificates a device signs with) with and without
FIDO's AAGUID extension, and a U2F device's certificate (id-fido-gen-ce-aaguid, 1.3.6.1.4.1.45724.1.1.4).
Each leaf's P-256 private scalar is written too (32 bytes), so the test can
sign attestation statements as the device would.

Run from anywhere: .venv/bin/python tests/vectors/attestation/make.py
(cryptography comes with moto). The certificates are valid for 100 years.
"""
import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

OUT = Path(__file__).resolve().parent
AAGUID_OID = ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")
# YubiKey 5 Series, as FIDO's Metadata Service lists it.
YUBIKEY_5 = bytes.fromhex("cb69481e8ff7403993ec0a2729a154a8")
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
END = START + datetime.timedelta(days=365 * 100)


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def cert(subject, key, issuer, issuer_key, ca, aaguid=None):
    b = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(START)
        .not_valid_after(END)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if aaguid is not None:
        # The extension's value is an OCTET STRING holding the 16 bytes.
        b = b.add_extension(x509.UnrecognizedExtension(AAGUID_OID, b"\x04\x10" + aaguid), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def write(file, c):
    (OUT / file).write_bytes(c.public_bytes(serialization.Encoding.DER))


def scalar(file, key):
    (OUT / file).write_bytes(key.private_numbers().private_value.to_bytes(32, "big"))


root_key = ec.generate_private_key(ec.SECP256R1())
root = cert("Test vendor attestation root", root_key, "Test vendor attestation root", root_key, ca=True)
inter_key = ec.generate_private_key(ec.SECP256R1())
inter = cert("Test vendor attestation CA", inter_key, "Test vendor attestation root", root_key, ca=True)
not_ca_key = ec.generate_private_key(ec.SECP256R1())
not_ca = cert("Test vendor end entity", not_ca_key, "Test vendor attestation root", root_key, ca=False)

leaf_key = ec.generate_private_key(ec.SECP256R1())
leaf = cert("Test key model Y", leaf_key, "Test vendor attestation CA", inter_key, ca=False, aaguid=YUBIKEY_5)
bare_key = ec.generate_private_key(ec.SECP256R1())
bare = cert("Test key, no model", bare_key, "Test vendor attestation CA", inter_key, ca=False)
# A leaf issued by a certificate that is not a CA (an end entity's key
# signing "attestation certificates" of its own).
rogue_key = ec.generate_private_key(ec.SECP256R1())
rogue = cert("Rogue leaf", rogue_key, "Test vendor end entity", not_ca_key, ca=False, aaguid=YUBIKEY_5)

# A U2F device's attestation certificate: issued by the vendor root, no
# AAGUID (U2F has none).
u2f_key = ec.generate_private_key(ec.SECP256R1())
u2f = cert("Test U2F key", u2f_key, "Test vendor attestation root", root_key, ca=False)

write("root.der", root)
write("u2f.der", u2f)
scalar("u2f.key", u2f_key)
write("intermediate.der", inter)
write("not-ca.der", not_ca)
write("leaf-aaguid.der", leaf)
scalar("leaf-aaguid.key", leaf_key)
write("leaf-bare.der", bare)
scalar("leaf-bare.key", bare_key)
write("leaf-rogue.der", rogue)
scalar("leaf-rogue.key", rogue_key)
print("wrote", sorted(p.name for p in OUT.iterdir()))
