"""Test-only probe of the molecule data scenario, for components created but never started (their
binaries cannot run here). Prints one JSON object.

  files CONTAINER DIR OUT      copy DIR out of the (stopped) container into OUT; report each file's mode and owner
  ini FILE                     parse a Go-style ini file (keys before the first section go under "")
  pem FILES ROOT_CA NAME...    FILES (comma-separated, read as one) hold a private key and a certificate chain:
                               does the key match the certificate, does the chain lead to ROOT_CA, does the
                               certificate name each NAME
"""
import base64
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "_shared"))
from static_common import files, ini as ini_sections  # the shared helpers' directory first


def ini(path):
    sections = ini_sections(path)
    jwt = {}
    for section, key in (("server", "LFS_JWT_SECRET"), ("oauth2", "JWT_SECRET")):
        value = sections.get(section, {}).get(key, "")
        jwt[key] = len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))) if value else 0
    return {"sections": sections, "jwt_secret_bytes": jwt}


def pem(paths, root_path, names):
    blob = b"".join(open(path, "rb").read() for path in paths.split(","))
    key = serialization.load_pem_private_key(blob, password=None)
    certs = x509.load_pem_x509_certificates(blob)
    root = x509.load_pem_x509_certificate(open(root_path, "rb").read())
    chain_ok = True
    try:
        for child, parent in zip(certs, [*certs[1:], root], strict=True):
            child.verify_directly_issued_by(parent)
    except Exception:  # any failure (bad signature, wrong issuer, key type) means "does not chain"
        chain_ok = False
    san = certs[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = san.get_values_for_type(x509.DNSName)
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_match = key.public_key().public_bytes(*spki) == certs[0].public_key().public_bytes(*spki)
    return {"certs": len(certs), "key_matches": key_match, "chain_ok": chain_ok,
            "missing_names": [n for n in names if n not in dns]}


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    result = {"files": lambda: files(*args[:3]), "ini": lambda: ini(args[0]),
              "pem": lambda: pem(args[0], args[1], args[2:])}[command]()
    print(json.dumps(result))
