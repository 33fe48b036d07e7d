#!/usr/bin/env python3
"""A TLS front for a plain-HTTP peer: AWS's endpoints speak HTTPS, moto
speaks HTTP, so a test that must prove Tapprove's HTTPS client works (the
AWS SDK's connector, with its TLS provider and the OS's roots) puts this in
front of moto.

    tls_front.py --upstream 127.0.0.1:PORT --cert-dir DIR

Writes DIR/cert.pem, a self-signed certificate for `localhost` and
127.0.0.1 (trust it with SSL_CERT_FILE), listens on a free port of
127.0.0.1 and prints `READY <port>`. Each connection's handshake is printed
as `HANDSHAKE ok` or `HANDSHAKE failed: <why>`; after a good one the bytes
are passed through to the upstream unchanged.
"""

import argparse
import datetime
import ipaddress
import socket
import ssl
import sys
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(directory: Path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        # An end-entity certificate (webpki refuses a CA certificate as a
        # server's), trusted directly as its own anchor.
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def pipe(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(conn, context, upstream):
    try:
        tls = context.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError) as e:
        print(f"HANDSHAKE failed: {e}", flush=True)
        conn.close()
        return
    print("HANDSHAKE ok", flush=True)
    host, port = upstream.rsplit(":", 1)
    back = socket.create_connection((host, int(port)))
    threading.Thread(target=pipe, args=(back, tls), daemon=True).start()
    pipe(tls, back)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--cert-dir", required=True, type=Path)
    args = parser.parse_args()
    cert, key = self_signed(args.cert_dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print(f"READY {listener.getsockname()[1]}", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, context, args.upstream), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
