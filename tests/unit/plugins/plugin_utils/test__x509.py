"""plugins/plugin_utils/_x509.py, and the fast path's due date that reads it (a real certificate, made here)."""

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.colima_services.devenv.plugins.action import fast_path
from ansible_collections.colima_services.devenv.plugins.plugin_utils import _x509

EXPIRY = datetime.datetime(2027, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)


def _cert():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "postgres.localhost")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(EXPIRY - datetime.timedelta(days=90)).not_valid_after(EXPIRY)
            .sign(key, hashes.SHA256()))


def test_the_expiry_is_an_aware_utc_time():
    assert _x509.not_after(_cert()) == EXPIRY and _x509.not_after(_cert()).tzinfo is not None


def test_the_fast_path_falls_due_at_the_first_renewal_of_a_certificate_under_services(tmp_path):
    cert = tmp_path / "services" / "postgres" / "tls.crt"
    cert.parent.mkdir(parents=True)
    cert.write_bytes(_cert().public_bytes(serialization.Encoding.PEM))
    (tmp_path / "services" / "postgres" / "broken.crt").write_text("not a certificate")
    now = (EXPIRY - datetime.timedelta(days=60)).timestamp()
    assert fast_path.valid_until(str(tmp_path), 30, 24, now) == (EXPIRY - datetime.timedelta(days=30)).timestamp()
