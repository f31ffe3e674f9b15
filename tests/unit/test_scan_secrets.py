"""scripts/scan_secrets.py against a real OpenBao server: it finds a secret in a backup (also gzip-compressed),
a TLS private key of the host-side copies in a log, and a host-side copy readable by others; and it passes a
clean setup. No containers are needed (the container prefix matches none)."""

import gzip
import json
import os
import subprocess
import sys
import time

import hvac
import hvac.exceptions

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCAN = os.path.join(ROOT, "scripts", "scan_secrets.py")
KEY = ("-----BEGIN PRIVATE KEY-----\n"
       "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
       "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n"
       "-----END PRIVATE KEY-----\n")


def retry(call, timeout=60):
    deadline = time.time() + timeout
    while True:
        try:
            return call()
        except (hvac.exceptions.InternalServerError, hvac.exceptions.InvalidRequest):
            if time.time() > deadline:
                raise
            time.sleep(0.3)


def setup_vault(bao, vault_dir):
    client = hvac.Client(url=bao.url)
    init = client.sys.initialize(secret_shares=1, secret_threshold=1)
    client.sys.submit_unseal_key(init["keys"][0])
    client.token = init["root_token"]
    # Raft elects this node leader a moment after the unseal, and a new kv-v2 mount upgrades itself for a moment.
    retry(lambda: client.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"}))
    retry(lambda: client.secrets.kv.v2.create_or_update_secret(
        path="postgresql", mount_point="secret", secret={"username": "dev_admin", "password": "Pw0rd-in-vault-42"}))
    vault_dir.mkdir(mode=0o700)
    (vault_dir / "root-token").write_text(init["root_token"])
    (vault_dir / "keys.json").write_text(json.dumps({"keys": init["keys"], "keys_base64": init["keys_base64"],
                                                     "root_token": init["root_token"]}))


def scan(vault_dir, bao, *extra):
    proc = subprocess.run([sys.executable, SCAN, "--vault-dir", str(vault_dir), "--url", bao.url,
                           "--prefix", "no-such-prefix-", *extra], capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def test_the_scan_reads_backups_tls_keys_and_the_modes_of_host_copies(tmp_path, bao):
    vault_dir = tmp_path / "vault"
    setup_vault(bao, vault_dir)
    services, backups = tmp_path / "services" / "postgres", tmp_path / "backups" / "20261201T000000Z"
    services.mkdir(parents=True, mode=0o700)
    (services / "tls.key").write_text(KEY)
    (services / "tls.key").chmod(0o600)
    (backups / "vault").mkdir(parents=True)
    (backups / "vault" / "keys.json").write_text((vault_dir / "keys.json").read_text())  # on purpose: left out
    (backups / "postgres.sql").write_text("-- clean dump\n")
    log = tmp_path / "run.log"
    log.write_text("nothing to see\n")
    args = ("--services-dir", str(tmp_path / "services"), "--backup-dir", str(tmp_path / "backups"), str(log))

    rc, out = scan(vault_dir, bao, *args)
    assert rc == 0, out
    assert "looked for 5 secrets" in out  # password, unseal key (two encodings), root token, the TLS key

    (backups / "mysql.sql.gz").write_bytes(gzip.compress(b"INSERT INTO t VALUES ('Pw0rd-in-vault-42');\n"))
    log.write_text("TASK [x] => {\"content\": \"%s\"}\n" % KEY.replace("\n", "\\n"))
    (services / "tls.key").chmod(0o644)
    rc, out = scan(vault_dir, bao, *args)
    assert rc == 1, out
    assert "FOUND secret/postgresql password in backup 20261201T000000Z/mysql.sql.gz" in out
    assert "FOUND private key postgres/tls.key in file %s" % log in out
    assert "READABLE BY OTHERS %s (mode 644)" % (services / "tls.key") in out
    assert "Pw0rd-in-vault-42" not in out and "MIIEvQIBADAN" not in out
