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
    bundle = "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBBB\n-----END CERTIFICATE-----\n"
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
