"""vault_init, vault_pki_bootstrap and vault_service_access against a real OpenBao server.

Each test gets its own `bao server` (raft storage in a temp dir, loopback port), so the
init/seal/restart behaviour is the real one.
"""

import base64
import datetime
import ipaddress
import json
import os
import stat

import hvac
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible_collections.colima_services.devenv.plugins.modules import (
    vault_init,
    vault_pki_bootstrap,
    vault_service_access,
)

SERVICES = [
    {"name": "postgresql", "data": {"username": "dev_admin", "database": "dev_database", "tls_enabled": True}},
    {"name": "mysql", "data": {"username": "dev_user", "database": "dev_database", "tls_enabled": True},
     "generate": ["root_password", "password"]},
    {"name": "redis-1", "share_group": "redis", "data": {"tls_enabled": True}},
    {"name": "redis-2", "share_group": "redis", "data": {"tls_enabled": True}},
]


def role(name):
    return {"name": "%s-role" % name, "allowed_domains": [name, "%s.dev-services.local" % name, "localhost"]}


class Env(object):
    """Paths and helpers around one bao server."""

    def __init__(self, bao, tmp_path, run_module):
        self.bao, self.run = bao, run_module
        self.dir = tmp_path / "vault"
        self.keys = self.dir / "keys.json"
        self.token = self.dir / "root-token"
        self.ca = self.dir / "ca"
        self.creds = self.dir / "approles"
        self.results = []

    def _record(self, failed, result):
        self.results.append(json.dumps(result))
        return failed, result

    def init(self, check=False, **extra):
        args = dict(url=self.bao.url, keys_file=str(self.keys), root_token_file=str(self.token), timeout=20,
                    _ansible_check_mode=check)
        args.update(extra)
        return self._record(*self.run(vault_init.main, args))

    def pki(self, check=False, diff=False, **extra):
        args = dict(url=self.bao.url, token_file=str(self.token), export_dir=str(self.ca),
                    roles=[role(s["name"]) for s in SERVICES], _ansible_check_mode=check, _ansible_diff=diff)
        args.update(extra)
        return self._record(*self.run(vault_pki_bootstrap.main, args))

    def access(self, check=False, services=None, **extra):
        args = dict(url=self.bao.url, token_file=str(self.token), credentials_dir=str(self.creds),
                    services=services or SERVICES, _ansible_check_mode=check, **extra)
        return self._record(*self.run(vault_service_access.main, args))

    def root_client(self):
        return hvac.Client(url=self.bao.url, token=self.token.read_text().strip())

    def secrets(self):
        """Every key, token and password this Vault holds, to look for in outputs."""
        values = []
        if self.keys.exists():
            data = json.loads(self.keys.read_text())
            values += data["keys"] + data["keys_base64"] + [data["root_token"]]
        client = self.root_client() if self.token.exists() else None
        for svc in SERVICES:
            try:
                secret = client.secrets.kv.v2.read_secret_version(path=svc["name"], raise_on_deleted_version=True)
                values += [v for v in secret["data"]["data"].values() if isinstance(v, str) and len(v) >= 20]
            except Exception:  # not created in this test
                pass
            cred = self.creds / ("%s.json" % svc["name"])
            if cred.exists():
                values.append(json.loads(cred.read_text())["secret_id"])
        return values

    def assert_no_secret_in_results(self):
        values = self.secrets()
        assert values, "expected secrets to look for"
        for text in self.results:
            for value in values:
                assert value not in text


@pytest.fixture
def env(bao, tmp_path, run_module):
    return Env(bao, tmp_path, run_module)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# ---------------------------------------------------------------- vault_init

def test_init_unseal_then_noop(env):
    failed, result = env.init()
    assert not failed, result
    assert result["changed"] and result["initialized"] and not result["sealed"]
    assert result["actions"] == ["initialize", "unseal"]
    assert mode(env.keys) == 0o600 and mode(env.token) == 0o600
    data = json.loads(env.keys.read_text())
    assert len(data["keys_base64"]) == 5 and data["unseal_threshold"] == 3
    assert env.token.read_text().strip() == data["root_token"]
    assert env.root_client().sys.read_seal_status()["sealed"] is False

    failed, again = env.init()
    assert not failed and not again["changed"] and again["actions"] == []
    env.assert_no_secret_in_results()


def test_restart_seals_and_module_unseals(env):
    assert not env.init()[0]
    env.bao.restart()
    assert hvac.Client(url=env.bao.url).sys.read_seal_status()["sealed"] is True
    failed, result = env.init()
    assert not failed and result["changed"] and result["actions"] == ["unseal"] and not result["sealed"]
    assert hvac.Client(url=env.bao.url).sys.read_seal_status()["sealed"] is False


def test_check_mode_changes_nothing(env):
    failed, result = env.init(check=True)
    assert not failed and result["changed"] and result["actions"] == ["initialize", "unseal"]
    assert not env.keys.exists() and not env.token.exists()
    assert hvac.Client(url=env.bao.url).sys.is_initialized() is False

    assert not env.init()[0]
    env.bao.restart()
    failed, result = env.init(check=True)
    assert not failed and result["actions"] == ["unseal"]
    assert hvac.Client(url=env.bao.url).sys.read_seal_status()["sealed"] is True


def test_wrong_keys_detected(env):
    assert not env.init()[0]
    good = env.keys.read_text()
    client = hvac.Client(url=env.bao.url)
    env.bao.restart()
    # Keys that belong to another Vault: well-formed shares that do not combine to this root key.
    foreign = {"keys_base64": [base64.b64encode(os.urandom(33)).decode() for _ in range(5)]}
    env.keys.write_text(json.dumps(foreign))
    failed, result = env.init()
    assert failed
    assert "do not unseal this Vault" in result["msg"] and str(env.keys) in result["msg"]
    for key in foreign["keys_base64"]:
        assert key not in json.dumps(result)
    assert client.sys.read_seal_status()["sealed"] is True
    env.keys.write_text(good)
    assert not env.init()[0]


def test_missing_keys_file_while_initialised_fails_clearly(env):
    assert not env.init()[0]
    env.bao.restart()
    env.keys.rename(env.dir / "moved.json")
    failed, result = env.init()
    assert failed
    assert "initialised and sealed" in result["msg"] and "Restore keys.json" in result["msg"]
    assert not env.keys.exists(), "nothing may be written"
    assert hvac.Client(url=env.bao.url).sys.is_initialized() is True


def test_missing_keys_file_while_unsealed_warns_naming_the_file(env):
    assert not env.init()[0]
    env.keys.rename(env.dir / "moved.json")
    failed, result = env.init()
    assert not failed and not result["changed"] and result["keys_missing"] is True
    # The module warns with this text (the vault role repeats it with colima_services.devenv.warn).
    message = vault_init.keys_missing_message(env.bao.url, str(env.keys))
    assert "VAULT KEYS MISSING" in message and str(env.keys) in message and "Restore keys.json" in message
    assert not env.keys.exists(), "nothing may be written"


def test_existing_keys_file_is_never_overwritten(env):
    env.dir.mkdir()
    env.keys.write_text('{"keys_base64": ["old"]}')
    failed, result = env.init()
    assert failed and "is not initialised, but" in result["msg"] and "Move the file away" in result["msg"]
    assert env.keys.read_text() == '{"keys_base64": ["old"]}'
    assert hvac.Client(url=env.bao.url).sys.is_initialized() is False


@pytest.mark.parametrize("which", ["keys_file", "root_token_file"])
def test_unwritable_files_fail_before_init(env, tmp_path, which):
    """vault_init checks that it can write both files before it calls sys/init: an initialised Vault without its
    keys could never be unsealed again."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    target = blocker / "file"
    failed, result = env.init(**{which: str(target)})
    assert failed
    assert str(target) in result["msg"] and "Nothing was changed" in result["msg"], result["msg"]
    assert hvac.Client(url=env.bao.url).sys.is_initialized() is False
    assert not env.keys.exists() and not env.token.exists()


def test_init_leaves_no_temp_file(env):
    assert not env.init()[0]
    assert sorted(p.name for p in env.dir.iterdir()) == ["keys.json", "root-token"]


def test_api_down_fails_with_what_to_check(run_module, tmp_path):
    failed, result = run_module(vault_init.main, dict(url="http://127.0.0.1:9", keys_file=str(tmp_path / "k.json"),
                                                      root_token_file=str(tmp_path / "t"), timeout=1))
    assert failed and "did not answer within 1 s" in result["msg"] and "docker logs dev-vault" in result["msg"]


# ---------------------------------------------------------------- vault_pki_bootstrap

def issuers(client, mount):
    return client.adapter.request("LIST", "/v1/%s/issuers" % mount)["data"]["keys"]


def test_pki_from_scratch_then_noop(env):
    assert not env.init()[0]
    failed, result = env.pki()
    assert not failed, result
    assert result["changed"]
    for action in ("enable kv-v2 at secret", "enable pki at pki", "enable pki at pki_int",
                   "generate root CA at pki", "sign the intermediate CA with the root at pki",
                   "write role postgresql-role"):
        assert action in result["actions"]
    root = x509.load_pem_x509_certificate((env.ca / "root-ca.pem").read_bytes())
    inter = x509.load_pem_x509_certificate((env.ca / "ca-chain.pem").read_bytes())
    assert "Colima Services Root CA" in root.subject.rfc4514_string()
    assert inter.issuer == root.subject
    inter.verify_directly_issued_by(root)
    assert mode(env.ca / "root-ca.pem") == 0o644

    failed, again = env.pki(diff=True)
    assert not failed and not again["changed"] and again["actions"] == [], again["actions"]
    assert again["diff"]["before"] == again["diff"]["after"]
    client = env.root_client()
    assert len(issuers(client, "pki")) == 1 and len(issuers(client, "pki_int")) == 1


def test_pki_check_mode_reports_plan_and_writes_nothing(env):
    assert not env.init()[0]
    failed, result = env.pki(check=True)
    assert not failed and result["changed"]
    assert "generate root CA at pki" in result["actions"] and "write role mysql-role" in result["actions"]
    mounts = env.root_client().sys.list_mounted_secrets_engines()["data"]
    assert "pki/" not in mounts and "secret/" not in mounts
    assert not env.ca.exists()


def test_half_done_intermediate_is_resumed(env):
    assert not env.init()[0]
    client = env.root_client()
    client.sys.enable_secrets_engine("pki", path="pki", config={"max_lease_ttl": "87600h"})
    client.sys.enable_secrets_engine("pki", path="pki_int", config={"max_lease_ttl": "43800h"})
    client.write_data("pki/root/generate/internal", data={"common_name": "Colima Services Root CA", "ttl": "87600h"})
    # Interrupted run: the intermediate key and CSR exist, the signed certificate was never set.
    client.write_data("pki_int/intermediate/generate/internal", data={"common_name": "x", "key_name": "intermediate"})
    key_ids = client.adapter.request("LIST", "/v1/pki_int/keys")["data"]["keys"]
    assert len(key_ids) == 1
    failed, result = env.pki()
    assert not failed, result
    assert any(a.startswith("resume intermediate CA at pki_int with existing key") for a in result["actions"])
    assert "generate root CA at pki" not in result["actions"]
    assert client.adapter.request("LIST", "/v1/pki_int/keys")["data"]["keys"] == key_ids
    assert len(issuers(client, "pki_int")) == 1 and len(issuers(client, "pki")) == 1
    assert not env.pki()[1]["changed"]


def test_role_drift_is_corrected_and_only_that_role_written(env):
    assert not env.init()[0]
    assert not env.pki()[0]
    client = env.root_client()
    client.write_data("pki_int/roles/mysql-role", data={"ttl": "1h", "allowed_domains": "mysql,localhost"})
    failed, result = env.pki()
    assert not failed and result["actions"] == ["update role mysql-role"]
    data = client.read("pki_int/roles/mysql-role")["data"]
    assert data["ttl"] == 8760 * 3600 and sorted(data["allowed_domains"]) == sorted(
        ["mysql", "mysql.dev-services.local", "localhost"])
    assert not env.pki()[1]["changed"]


def test_wrong_mount_type_fails_unless_accepted(env):
    assert not env.init()[0]
    env.root_client().sys.enable_secrets_engine("kv", path="secret", options={"version": "1"})
    failed, result = env.pki()
    assert failed and "secret/ is a kv-v1 engine, but kv-v2 is needed" in result["msg"]
    failed, result = env.pki(accept_mount_mismatch=True)
    assert not failed and "enable kv-v2 at secret" not in result["actions"]


def test_issued_certificates_chain_to_root_with_service_sans(env):
    assert not env.init()[0]
    assert not env.pki()[0]
    client = env.root_client()
    root = x509.load_pem_x509_certificate((env.ca / "root-ca.pem").read_bytes())
    inter = x509.load_pem_x509_certificate((env.ca / "ca-chain.pem").read_bytes())
    full = (env.ca / "full-chain.pem").read_text()
    assert full.startswith((env.ca / "ca-chain.pem").read_text().strip())
    for svc, ip in (("postgresql", "172.20.0.10"), ("redis-1", "172.20.0.13")):
        issued = client.write_data("pki_int/issue/%s-role" % svc, data={
            "common_name": svc, "alt_names": "%s.dev-services.local,localhost" % svc, "ip_sans": ip + ",127.0.0.1"})
        cert = x509.load_pem_x509_certificate(issued["data"]["certificate"].encode())
        cert.verify_directly_issued_by(inter)
        inter.verify_directly_issued_by(root)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert {svc, "localhost", "%s.dev-services.local" % svc} <= set(san.get_values_for_type(x509.DNSName))
        assert ipaddress.ip_address(ip) in san.get_values_for_type(x509.IPAddress)
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert ExtendedKeyUsageOID.SERVER_AUTH in usages and ExtendedKeyUsageOID.CLIENT_AUTH in usages
        lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
        assert datetime.timedelta(days=364) < lifetime <= datetime.timedelta(days=366)
    # A name outside the role is refused.
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.write_data("pki_int/issue/postgresql-role", data={"common_name": "mysql"})


# ---------------------------------------------------------------- vault_service_access

def login(env, name):
    cred = json.loads((env.creds / ("%s.json" % name)).read_text())
    client = hvac.Client(url=env.bao.url)
    client.auth.approle.login(role_id=cred["role_id"], secret_id=cred["secret_id"])
    return client


def test_service_access_least_privilege_and_no_rotation(env):
    assert not env.init()[0]
    assert not env.pki()[0]
    failed, result = env.access(check=True)
    assert not failed and "create secret secret/postgresql" in result["actions"]
    assert not env.creds.exists()

    failed, result = env.access()
    assert not failed, result
    assert result["services"]["postgresql"]["policy"] == "postgresql-policy"
    assert mode(env.creds / "postgresql.json") == 0o600
    root = env.root_client()
    pg = root.secrets.kv.v2.read_secret_version(path="postgresql", raise_on_deleted_version=True)["data"]["data"]
    assert pg["username"] == "dev_admin" and pg["database"] == "dev_database" and pg["tls_enabled"] is True
    assert len(pg["password"]) == 25 and pg["password"].isalnum()
    my = root.secrets.kv.v2.read_secret_version(path="mysql", raise_on_deleted_version=True)["data"]["data"]
    assert len(my["root_password"]) == 25 and my["root_password"] != my["password"]
    r1 = root.secrets.kv.v2.read_secret_version(path="redis-1", raise_on_deleted_version=True)["data"]["data"][
        "password"]
    r2 = root.secrets.kv.v2.read_secret_version(path="redis-2", raise_on_deleted_version=True)["data"]["data"][
        "password"]
    assert r1 == r2

    client = login(env, "postgresql")
    assert client.secrets.kv.v2.read_secret_version(path="postgresql", raise_on_deleted_version=True)[
        "data"]["data"]["password"] == pg["password"]
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version(path="mysql", raise_on_deleted_version=True)
    with pytest.raises(hvac.exceptions.Forbidden):
        client.write_data("pki_int/issue/mysql-role", data={"common_name": "mysql"})
    issued = client.write_data("pki_int/issue/postgresql-role", data={"common_name": "postgresql"})
    assert "BEGIN CERTIFICATE" in issued["data"]["certificate"]
    assert "root" not in client.lookup_token()["data"]["policies"]

    before = (env.creds / "postgresql.json").read_text()
    failed, again = env.access()
    assert not failed and not again["changed"], again["actions"]
    assert (env.creds / "postgresql.json").read_text() == before
    assert root.secrets.kv.v2.read_secret_version(path="postgresql",
                                                  raise_on_deleted_version=True)["data"]["data"] == pg

    # A redis node added later gets the group's existing password; nothing else changes.
    more = [*SERVICES, {"name": "redis-3", "share_group": "redis", "data": {"tls_enabled": True}}]
    failed, result = env.access(services=more)
    assert not failed
    assert "create secret secret/redis-3" in result["actions"]
    assert not any("secret/redis-1" in a or "secret/postgresql" in a for a in result["actions"])
    assert root.secrets.kv.v2.read_secret_version(path="redis-3", raise_on_deleted_version=True)[
        "data"]["data"]["password"] == r1
    env.assert_no_secret_in_results()


def test_a_secret_without_fields_is_not_created_twice(env):
    """A component whose secret holds no field (prometheus: an AppRole and a certificate only) converges once and
    then changes nothing."""
    assert not env.init()[0]
    assert not env.pki()[0]
    services = [*SERVICES, {"name": "prometheus", "data": {}, "generate": []}]
    failed, result = env.access(services=services)
    assert not failed and "create secret secret/prometheus" in result["actions"], result
    failed, again = env.access(services=services)
    assert not failed and not again["changed"], again


def kv(env, name):
    return env.root_client().secrets.kv.v2.read_secret_version(path=name, raise_on_deleted_version=True)["data"]


def test_a_soft_deleted_secret_is_restored_not_regenerated(env):
    """The database keeps its password: a deleted latest version is undeleted, never replaced by a new value."""
    assert not env.init()[0]
    assert not env.pki()[0]
    assert not env.access()[0]
    before = kv(env, "mysql")
    env.root_client().secrets.kv.v2.delete_latest_version_of_secret(path="mysql")
    failed, result = env.access()
    assert not failed and result["actions"] == ["undelete version 1 of secret secret/mysql"], result
    after = kv(env, "mysql")
    assert after["data"] == before["data"] and after["metadata"]["version"] == 1
    assert not env.access()[1]["changed"]


def test_a_destroyed_secret_stops_the_run_unless_regeneration_is_asked_for(env):
    assert not env.init()[0]
    assert not env.pki()[0]
    assert not env.access()[0]
    before = kv(env, "mysql")
    env.root_client().secrets.kv.v2.destroy_secret_versions(path="mysql", versions=[1])
    failed, result = env.access()
    assert failed
    assert "secret/mysql" in result["msg"] and "destroyed" in result["msg"]
    assert "vault_regenerate_secrets" in result["msg"]
    meta = env.root_client().secrets.kv.v2.read_secret_metadata(path="mysql")["data"]
    assert meta["current_version"] == 1, "nothing may be written"

    failed, result = env.access(regenerate=["mysql"])
    assert not failed and "regenerate secret secret/mysql" in result["actions"], result
    after = kv(env, "mysql")
    assert after["metadata"]["version"] == 2 and after["data"]["username"] == before["data"]["username"]
    assert len(after["data"]["password"]) == 25 and after["data"]["password"] != before["data"]["password"]
    assert not env.access()[1]["changed"]


def test_revoked_secret_id_is_renewed(env):
    assert not env.init()[0]
    assert not env.pki()[0]
    assert not env.access()[0]
    cred = json.loads((env.creds / "mysql.json").read_text())
    env.root_client().write_data("auth/approle/role/mysql/secret-id/destroy", data={"secret_id": cred["secret_id"]})
    failed, result = env.access()
    assert not failed and result["actions"] == ["renew credential file %s" % (env.creds / "mysql.json")]
    assert login(env, "mysql").secrets.kv.v2.read_secret_version(path="mysql", raise_on_deleted_version=True)


def test_no_token_fails_with_the_fix(run_module, tmp_path):
    failed, result = run_module(vault_pki_bootstrap.main, dict(token_file=str(tmp_path / "none")))
    assert failed and "No Vault token" in result["msg"] and "vault_init" in result["msg"]



def test_renamed_certificate_role_is_taken_over_without_losing_anything(env):
    """0.1.0 issued PostgreSQL's certificates from postgresql-role; the design's name is postgres-role."""
    assert not env.init()[0]
    assert not env.pki()[0] and not env.access()[0]
    client = env.root_client()
    before = client.secrets.kv.v2.read_secret_version(path="postgresql", raise_on_deleted_version=True)["data"]
    new_role = {"name": "postgres-role", "allowed_domains": ["postgres", "postgresql", "localhost"]}
    roles = [new_role] + [role(s["name"]) for s in SERVICES if s["name"] != "postgresql"]

    failed, result = env.pki(roles=roles, remove_roles=["postgresql-role", "mysql-role"])
    assert not failed, result
    # mysql-role is still wanted, so it stays; only the retired name goes.
    assert result["actions"] == ["write role postgres-role", "remove role postgresql-role"]
    listed = client.secrets.pki.list_roles(mount_point="pki_int")["data"]["keys"]
    assert "postgres-role" in listed and "postgresql-role" not in listed and "mysql-role" in listed

    services = [dict(s, cert_role="postgres-role") if s["name"] == "postgresql" else s for s in SERVICES]
    failed, result = env.access(services=services)
    assert not failed and result["actions"] == ["update policy postgresql-policy"]
    pg = login(env, "postgresql")
    issued = pg.write_data("pki_int/issue/postgres-role", data={"common_name": "postgres"})
    assert issued["data"]["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    with pytest.raises(hvac.exceptions.Forbidden):
        pg.write_data("pki_int/issue/mysql-role", data={"common_name": "postgres"})
    after = client.secrets.kv.v2.read_secret_version(path="postgresql", raise_on_deleted_version=True)["data"]
    assert after["data"] == before["data"] and after["metadata"]["version"] == 1
    # Both runs again: nothing left to do.
    assert env.pki(roles=roles, remove_roles=["postgresql-role"])[1]["actions"] == []
    assert env.access(services=services)[1]["actions"] == []
    env.assert_no_secret_in_results()


# ---------------------------------------------------------------- the vault_access action's core

def service_access(env, login=None):
    """The action's core on a fresh client, logged in as `login` when given."""
    from ansible_collections.colima_services.devenv.plugins.action import vault_access as action
    from ansible_collections.colima_services.devenv.plugins.module_utils._vault import VaultApi, connect

    access = action.Access(VaultApi(connect({"url": env.bao.url}), env.bao.url), str(env.dir), {})
    if login:
        access.login(login)
    return access


PG_REQUEST = {"service": "postgresql", "role": "postgresql-role", "common_name": "postgresql",
              "alt_names": ["postgresql.dev-services.local", "localhost"], "ip_sans": ["127.0.0.1"]}


def test_vault_access_says_what_vault_refused_not_that_it_is_unreachable(env, tmp_path):
    """Every error used to read "cannot reach Vault"; now each names the operation and Vault's answer."""
    from ansible_collections.colima_services.devenv.plugins.module_utils._vault import VaultError

    assert not env.init()[0] and not env.pki()[0] and not env.access()[0]
    access = service_access(env)
    assert access.own_secret("postgresql")["username"] == "dev_admin"
    with pytest.raises(VaultError) as refused:
        access.secret("mysql")
    assert "Vault refused reading secret secret/mysql: permission denied" in str(refused.value)
    with pytest.raises(VaultError) as refused:
        access.certificate(dict(PG_REQUEST, common_name="www.example.com"), str(tmp_path / "tls"))
    assert "Vault refused issuing a certificate for www.example.com" in str(refused.value)
    assert "cannot reach" not in str(refused.value).lower()
    cred = json.loads((env.creds / "postgresql.json").read_text())
    env.root_client().write_data("auth/approle/role/postgresql/secret-id/destroy",
                                 data={"secret_id": cred["secret_id"]})
    with pytest.raises(VaultError) as refused:
        service_access(env).own_secret("postgresql")
    assert "Vault refused the AppRole login of postgresql" in str(refused.value)
    assert "Run the vault role again" in str(refused.value)
    env.bao.stop()
    with pytest.raises(VaultError) as down:
        service_access(env).own_secret("mysql")
    assert "Cannot reach Vault at %s" % env.bao.url in str(down.value)


def test_a_certificate_is_issued_again_when_the_intermediate_changed(env, tmp_path):
    assert not env.init()[0] and not env.pki()[0] and not env.access()[0]
    tls = str(tmp_path / "tls")
    why, changed = service_access(env, "postgresql").certificate(PG_REQUEST, tls)
    assert why == "missing" and changed
    assert service_access(env, "postgresql").certificate(PG_REQUEST, tls) == (None, False)
    # A new intermediate (as after a Vault re-init, or a re-issued chain) under the same name.
    client = env.root_client()
    csr = client.write_data("pki_int/intermediate/generate/internal",
                            data={"common_name": "Colima Services Intermediate CA", "key_name": "again"})["data"]["csr"]
    signed = client.write_data("pki/root/sign-intermediate",
                               data={"csr": csr, "format": "pem", "ttl": "43800h"})["data"]["certificate"]
    imported = client.write_data("pki_int/intermediate/set-signed", data={"certificate": signed})["data"]
    client.write_data("pki_int/config/issuers", data={"default": imported["imported_issuers"][0]})
    why, changed = service_access(env, "postgresql").certificate(PG_REQUEST, tls)
    assert why.startswith("issued by another CA") and changed
    assert service_access(env, "postgresql").certificate(PG_REQUEST, tls) == (None, False)


# ---------------------------------------------------------------- name constraints of the CAs

DOMAINS = ["localhost", "dev-services.local"] + [s["name"] for s in SERVICES]
IP_RANGES = ["172.20.0.0/24", "127.0.0.1/32"]


def constrained_roles():
    return [dict(role(s["name"]), allowed_ip_sans_cidr=IP_RANGES) for s in SERVICES]


def permitted(pem):
    from cryptography.x509 import NameConstraints

    cert = x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
    try:
        value = cert.extensions.get_extension_for_class(NameConstraints).value
    except x509.ExtensionNotFound:
        return None
    return sorted(n.value for n in value.permitted_subtrees or [])


def openssl_text(path):
    import subprocess

    return subprocess.run(["openssl", "x509", "-noout", "-text", "-in", str(path)], check=True,
                          capture_output=True, text=True).stdout


def test_the_cas_are_constrained_and_no_role_issues_for_other_names_or_ips(env):
    assert not env.init()[0]
    failed, result = env.pki(roles=constrained_roles(), permitted_dns_domains=DOMAINS)
    assert not failed, result
    for name in ("root-ca.pem", "ca-chain.pem"):
        text = openssl_text(env.ca / name)
        assert "X509v3 Name Constraints: critical" in text and "DNS:dev-services.local" in text, text
        assert permitted((env.ca / name).read_text()) == sorted(DOMAINS)
    client = env.root_client()
    for svc in SERVICES:
        for bad in ({"common_name": "www.example.com"}, {"common_name": svc["name"], "ip_sans": "8.8.8.8"}):
            with pytest.raises(hvac.exceptions.InvalidRequest):
                client.write_data("pki_int/issue/%s-role" % svc["name"], data=bad)
        issued = client.write_data("pki_int/issue/%s-role" % svc["name"], data={
            "common_name": svc["name"], "alt_names": "localhost", "ip_sans": "172.20.0.10,127.0.0.1"})
        assert "BEGIN CERTIFICATE" in issued["data"]["certificate"]
    assert not env.pki(roles=constrained_roles(), permitted_dns_domains=DOMAINS)[1]["changed"]


def test_an_unconstrained_ca_is_reissued_only_when_asked(env, tmp_path):
    assert not env.init()[0]
    assert not env.pki()[0] and not env.access()[0]  # an environment from before the constraints
    old_root = (env.ca / "root-ca.pem").read_text()
    tls = str(tmp_path / "tls")
    assert service_access(env, "postgresql").certificate(PG_REQUEST, tls)[1]

    failed, result = env.pki(roles=constrained_roles(), permitted_dns_domains=DOMAINS)
    assert not failed and result["ca_reissue_needed"] is True
    assert not any("CA" in a for a in result["actions"]), result["actions"]
    assert "-e vault_pki_reissue_ca=true" in result["ca_reissue_message"], result["ca_reissue_message"]
    assert "trust the new root-ca.pem" in result["ca_reissue_message"]
    assert (env.ca / "root-ca.pem").read_text() == old_root

    failed, result = env.pki(roles=constrained_roles(), permitted_dns_domains=DOMAINS, reissue_ca=True)
    assert not failed, result
    assert "re-issue the root CA at pki" in result["actions"]
    assert "re-issue the intermediate CA at pki_int" in result["actions"]
    assert permitted((env.ca / "root-ca.pem").read_text()) == sorted(DOMAINS)
    assert permitted((env.ca / "ca-chain.pem").read_text()) == sorted(DOMAINS)
    assert (env.ca / "root-ca.pem").read_text() != old_root
    root = x509.load_pem_x509_certificate((env.ca / "root-ca.pem").read_bytes())
    x509.load_pem_x509_certificate((env.ca / "ca-chain.pem").read_bytes()).verify_directly_issued_by(root)
    # The service certificate from the old chain is issued again by the next service step.
    why, changed = service_access(env, "postgresql").certificate(PG_REQUEST, tls)
    assert why.startswith("issued by another CA") and changed
    # And the flag left on changes nothing more.
    failed, again = env.pki(roles=constrained_roles(), permitted_dns_domains=DOMAINS, reissue_ca=True)
    assert not failed and not again["changed"] and not again["ca_reissue_needed"], again["actions"]
