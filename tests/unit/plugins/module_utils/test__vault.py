"""Pure helpers of the vault modules (no server needed)."""

import os
import stat

import pytest

from ansible_collections.colima_services.devenv.plugins.module_utils import _vault
from ansible_collections.colima_services.devenv.plugins.modules import vault_pki_bootstrap as pki
from ansible_collections.colima_services.devenv.plugins.modules import vault_service_access as access


@pytest.mark.parametrize("value, seconds", [
    ("8760h", 31536000), ("1h30m", 5400), ("90s", 90), ("3600", 3600), (3600, 3600), ("2d", 172800), ("", 0),
])
def test_duration_seconds(value, seconds):
    assert _vault.duration_seconds(value) == seconds


@pytest.mark.parametrize("value", ["8760 h", "1y", "h", "-5s"])
def test_duration_seconds_rejects_what_it_cannot_read(value):
    with pytest.raises(_vault.VaultError, match="Cannot read the duration"):
        _vault.duration_seconds(value)


def test_roles_compare_equal_across_ttl_and_list_forms():
    written = {"allowed_domains": ["redis-1", "localhost"], "ttl": "8760h", "max_ttl": "8760h",
               "allow_subdomains": True, "allow_bare_domains": True, "allow_localhost": True, "allow_ip_sans": True,
               "server_flag": True, "client_flag": True}
    read_back = dict(written, allowed_domains="localhost,redis-1", ttl=31536000, max_ttl="31536000")
    assert pki.normalise_role(written) == pki.normalise_role(read_back)
    assert pki.normalise_role(written) != pki.normalise_role(dict(read_back, ttl=3600))
    assert pki.normalise_role(written) != pki.normalise_role(dict(read_back, client_flag=False))


def test_first_pem_takes_the_intermediate_out_of_a_bundle():
    bundle = ("-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"
              "-----BEGIN CERTIFICATE-----\nBBB\n-----END CERTIFICATE-----\n")
    assert pki.first_pem(bundle) == "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"


def test_policy_grants_only_the_service_paths():
    text = access.policy_text("pgbouncer", {"kv_mount": "secret", "pki_mount": "pki_int", "root_mount": "pki"},
                              ["postgresql"])
    assert 'path "secret/data/pgbouncer"' in text and 'path "secret/data/postgresql"' in text
    assert 'path "pki_int/issue/pgbouncer-role" {\n  capabilities = ["update"]' in text
    assert "secret/data/*" not in text and "sys/" not in text and '"create"' not in text


def test_atomic_write_mode_and_no_overwrite(tmp_path):
    target = tmp_path / "sub" / "keys.json"
    _vault.atomic_write(str(target), "one")
    assert target.read_text() == "one"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(target.parent).st_mode) == 0o700
    with pytest.raises(_vault.VaultError, match="Refusing to overwrite"):
        _vault.atomic_write(str(target), "two", overwrite=False)
    assert target.read_text() == "one"
    assert [p.name for p in target.parent.iterdir()] == ["keys.json"], "no temp file left behind"


def test_reserved_file_keeps_the_content_when_it_cannot_be_put_in_place(tmp_path):
    target = tmp_path / "keys.json"
    reserved = _vault.ReservedFile(str(target))
    temp = [p for p in tmp_path.iterdir()]
    assert len(temp) == 1 and stat.S_IMODE(os.stat(temp[0]).st_mode) == 0o600
    assert os.stat(temp[0]).st_blocks * 512 >= 65536, "the space is allocated up front"
    target.write_text("appeared meanwhile")
    with pytest.raises(_vault.VaultError, match="rename it to"):
        reserved.commit("the keys")
    assert target.read_text() == "appeared meanwhile"
    assert temp[0].read_text() == "the keys", "the content is never thrown away"


def test_reserved_file_commit_writes_exactly_the_content(tmp_path):
    target = tmp_path / "d" / "root-token"
    _vault.ReservedFile(str(target)).commit("token\n")
    assert target.read_text() == "token\n" and stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["root-token"]
    with pytest.raises(_vault.VaultError, match="Refusing to overwrite"):
        _vault.ReservedFile(str(target))


def _ca(name):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=900))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True).sign(key, hashes.SHA256()))
    return key, cert


def _leaf(ca_key, ca_cert, key=None):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = key or ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "postgres")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=300))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("postgres")]), False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def _pem(obj):
    from cryptography.hazmat.primitives import serialization

    if hasattr(obj, "private_bytes"):
        return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    return obj.public_bytes(serialization.Encoding.PEM)


def test_a_certificate_from_another_ca_or_with_another_key_is_issued_again():
    """After a Vault re-init the intermediate CA is new: certificates it did not sign are issued again, and so is
    one whose private key does not belong to it."""
    from ansible_collections.colima_services.devenv.plugins.action.vault_access import cert_needs_renewal

    current_key, current = _ca("Intermediate (now)")
    old_key, old = _ca("Intermediate (before the re-init)")
    key, cert = _leaf(current_key, current)
    assert cert_needs_renewal(_pem(cert), ["postgres"], [], 30, issuer_pem=_pem(current), key_pem=_pem(key)) is None
    _old_leaf_key, old_leaf = _leaf(old_key, old)
    assert cert_needs_renewal(_pem(old_leaf), ["postgres"], [], 30, issuer_pem=_pem(current)) == \
        "issued by another CA (Intermediate (before the re-init)), not the current intermediate"
    # Same subject name, other key: a CA made again under the same name is not the same CA.
    _same_name_key, same_name = _ca("Intermediate (now)")
    _k, forged = _leaf(_same_name_key, same_name)
    assert cert_needs_renewal(_pem(forged), ["postgres"], [], 30,
                              issuer_pem=_pem(current)).startswith("issued by another CA")
    other_key, _unused = _leaf(current_key, current)
    assert cert_needs_renewal(_pem(cert), ["postgres"], [], 30, issuer_pem=_pem(current),
                              key_pem=_pem(other_key)) == "its private key (tls.key) does not belong to it"
    assert cert_needs_renewal(_pem(cert), ["postgres"], [], 30, issuer_pem=_pem(current), key_pem=None) == \
        "its private key (tls.key) is missing"
    assert cert_needs_renewal(_pem(cert), ["postgres"], [], 30, issuer_pem=_pem(current), key_pem=b"junk") == \
        "its private key (tls.key) is unreadable"
