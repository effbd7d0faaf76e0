#!/usr/bin/python3
"""Generate a throw-away PKI for the AMP StartTLS interop tests.

Usage: /usr/bin/python3 make_certs.py OUTDIR

Writes into OUTDIR (created if missing), all PEM:
  ca.pem                       self-signed CA certificate, CN "ampstate-test-ca"
  server.pem / server.key      CN "ampstate-test-server", signed by the CA
  client.pem / client.key      CN "ampstate-test-client", signed by the CA
Both leaf certificates carry SAN DNS:localhost and IP:127.0.0.1 and both
serverAuth+clientAuth extended key usage (so either side can use either).
Keys are RSA-2048, unencrypted PKCS#8 ("BEGIN PRIVATE KEY"), which Node's tls
module and Twisted's PrivateCertificate.loadPEM both accept.  Validity: from
one day ago to ten years from now.  Prints one JSON line with the file paths.
"""

import datetime
import ipaddress
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _validity(builder):
    now = datetime.datetime.now(datetime.timezone.utc)
    return builder.not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(
        now + datetime.timedelta(days=3650)
    )


def make_ca():
    key = _key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("ampstate-test-ca"))
        .issuer_name(_name("ampstate-test-ca"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    cert = _validity(builder).sign(key, hashes.SHA256())
    return key, cert


def make_leaf(cn, ca_key, ca_cert):
    key = _key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    cert = _validity(builder).sign(ca_key, hashes.SHA256())
    return key, cert


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: make_certs.py OUTDIR\n")
        return 2
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    ca_key, ca_cert = make_ca()
    files = {"ca": os.path.join(out, "ca.pem")}
    _write(files["ca"], ca_cert.public_bytes(serialization.Encoding.PEM))
    for role in ("server", "client"):
        key, cert = make_leaf("ampstate-test-" + role, ca_key, ca_cert)
        files[role + "_cert"] = os.path.join(out, role + ".pem")
        files[role + "_key"] = os.path.join(out, role + ".key")
        _write(files[role + "_cert"], cert.public_bytes(serialization.Encoding.PEM))
        _write(files[role + "_key"], _key_pem(key))
    print(json.dumps(files), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
