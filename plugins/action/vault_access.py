# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Action for colima_services.devenv.vault_access: a service's secret and certificate, in-process.

Logs in with the service's OWN AppRole credential (once per run: the token is handed back and
reused by the next call for the same service while it is valid), reads its secret (and the other
secrets its policy allows), and issues a certificate through its certificate role only when the
current one is missing, expires within renew_days, or its names or IPs differ from the wanted ones. The result
carries secrets, so it is always marked no_log; error messages never contain one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase

from ansible_collections.colima_services.devenv.plugins.module_utils._vault import atomic_write

try:
    import hvac
    from hvac import exceptions as hvac_exc
    HAS_HVAC = True
except ImportError:
    HAS_HVAC = False

try:
    from cryptography import x509
    HAS_CRYPTOGRAPHY = True
except ImportError:
    HAS_CRYPTOGRAPHY = False


class _Fail(Exception):
    pass


def cert_needs_renewal(pem, names, ips, renew_days, now=None):
    """A reason to issue a new certificate, or None when the one in pem still serves."""
    if not pem:
        return "missing"
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return "unreadable"
    now = now or datetime.datetime.now(datetime.timezone.utc)
    not_after = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    if not_after - now < datetime.timedelta(days=int(renew_days)):
        return "expires %s" % not_after.date()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        have_names = set(san.get_values_for_type(x509.DNSName))
        have_ips = set(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        have_names, have_ips = set(), set()
    missing = sorted(set(names) - have_names) + sorted(set(ips) - have_ips)
    if missing:
        return "lacks %s" % ", ".join(missing)
    # A name no longer wanted (the edge stopped routing a host, say): the certificate follows the set of names.
    extra = sorted(have_names - set(names)) + sorted(have_ips - set(ips))
    if extra:
        return "names %s no longer wanted" % ", ".join(extra)
    return None


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("request", "cert", "read_secrets", "url", "vault_dir", "tls_dir", "renew_days"))

    def _login(self, client, service, vault_dir, tokens, force=False):
        cached = tokens.get(service) or {}
        if not force and cached.get("token") and cached.get("expires", 0) > time.time() + 60:
            client.token = cached["token"]
            return False
        path = os.path.join(vault_dir, "approles", service + ".json")
        raw = _read(path)
        if raw is None:
            raise _Fail("No Vault credential for %s at %s. Run the vault role first (ansible-playbook playbooks/vault.yml, "
                        "or site.yml) with the same inventory." % (service, path))
        try:
            cred = json.loads(to_text(raw))
            auth = client.auth.approle.login(role_id=cred["role_id"], secret_id=cred["secret_id"], use_token=False)["auth"]
        except (ValueError, KeyError):
            raise _Fail("%s is not an AppRole credential file (role_id, secret_id). Run the vault role again to "
                        "rewrite it." % path)
        except hvac_exc.VaultError as exc:
            raise _Fail("Vault refused the AppRole login of %s (%s). Run the vault role again: it renews a "
                        "credential that no longer works." % (service, type(exc).__name__))
        client.token = auth["client_token"]
        tokens[service] = {"token": auth["client_token"], "expires": time.time() + int(auth.get("lease_duration") or 300)}
        return True

    def _read_secret(self, client, name):
        try:
            return client.secrets.kv.v2.read_secret_version(path=name, mount_point="secret",
                                                            raise_on_deleted_version=True)["data"]["data"]
        except hvac_exc.InvalidPath:
            raise _Fail("secret/%s does not exist. Run the vault role (it creates every enabled component's secret)." % name)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        if not HAS_HVAC or not HAS_CRYPTOGRAPHY:
            raise AnsibleActionFail("vault_access needs the Python packages hvac and cryptography on the controller")
        args = self._task.args
        request = args.get("request") or {}
        service = request.get("service")
        if not service:
            raise AnsibleActionFail("vault_access needs request.service (see the cert_request filter)")
        vault_dir, tls_dir = args["vault_dir"], args["tls_dir"]
        tokens = dict((task_vars or {}).get("_devenv_vault_tokens") or {})
        client = hvac.Client(url=args["url"], timeout=30)
        secrets, changed = {}, False
        try:
            try:
                self._login(client, service, vault_dir, tokens)
                secret = self._read_secret(client, service)
            except hvac_exc.Forbidden:  # a cached token revoked behind our back: log in once more
                self._login(client, service, vault_dir, tokens, force=True)
                secret = self._read_secret(client, service)
            for other in args.get("read_secrets") or []:
                secrets[other] = self._read_secret(client, other)

            if args.get("cert", True):
                os.makedirs(tls_dir, mode=0o700, exist_ok=True)
                names = [request["common_name"]] + list(request.get("alt_names") or [])
                ips = list(request.get("ip_sans") or [])
                why = cert_needs_renewal(_read(os.path.join(tls_dir, "tls.crt")), names, ips, args.get("renew_days", 30))
                if why and not self._task.check_mode:
                    data = client.secrets.pki.generate_certificate(
                        name=request["role"], common_name=request["common_name"], mount_point="pki_int",
                        extra_params={"alt_names": ",".join(request.get("alt_names") or []), "ip_sans": ",".join(ips)})["data"]
                    chain = [data["certificate"]] + [c for c in data.get("ca_chain") or [] if c != data["certificate"]]
                    atomic_write(os.path.join(tls_dir, "tls.key"), to_bytes(data["private_key"].strip() + "\n"), mode=0o600)
                    atomic_write(os.path.join(tls_dir, "tls.crt"), to_bytes("\n".join(c.strip() for c in chain) + "\n"), mode=0o600)
                    changed = True
                if why:
                    result["certificate"] = "issued (%s)" % why
                root = _read(os.path.join(vault_dir, "ca", "root-ca.pem"))
                if root is None:
                    raise _Fail("%s/ca/root-ca.pem is missing. Run the vault role: it exports the CA." % vault_dir)
                if _read(os.path.join(tls_dir, "ca.crt")) != root and not self._task.check_mode:
                    atomic_write(os.path.join(tls_dir, "ca.crt"), root, mode=0o600)
                    changed = True
        except _Fail as exc:
            # No secret in here: the messages above name files and services only.
            result.update(failed=True, msg="%s: %s" % (service, exc))
            return result
        except hvac_exc.VaultError as exc:
            result.update(failed=True, msg="%s: Vault at %s answered %s. Is Vault unsealed? Run the vault role."
                                            % (service, args["url"], type(exc).__name__))
            return result
        except Exception as exc:  # connection errors from requests
            result.update(failed=True, msg="%s: cannot reach Vault at %s (%s). Start it with the vault role."
                                            % (service, args["url"], type(exc).__name__))
            return result
        result.update(changed=changed, _ansible_no_log=True, secret=secret, secrets=secrets, tls_dir=tls_dir,
                      tokens=tokens)
        return result
