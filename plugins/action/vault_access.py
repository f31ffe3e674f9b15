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

from ansible_collections.colima_services.devenv.plugins.module_utils._vault import (
    HAS_HVAC,
    VaultApi,
    VaultError,
    atomic_write,
    connect,
)
from ansible_collections.colima_services.devenv.plugins.plugin_utils import _x509

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    HAS_CRYPTOGRAPHY = True
except ImportError:
    HAS_CRYPTOGRAPHY = False


_UNCHECKED = object()


def cert_needs_renewal(pem, names, ips, renew_days, now=None, issuer_pem=None, key_pem=_UNCHECKED):
    """A reason to issue a new certificate, or None when the one in pem still serves.

    issuer_pem: the current intermediate CA; a certificate it did not sign (a CA from before a Vault re-init or a
    re-issued chain) is issued again. key_pem: the private key next to it (None: missing); checked when given.
    """
    if not pem:
        return "missing"
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return "unreadable"
    return (_expiry(cert, renew_days, now) or _names(cert, names, ips) or _issuer(cert, issuer_pem)
            or (_key(cert, key_pem) if key_pem is not _UNCHECKED else None))


def _expiry(cert, renew_days, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    not_after = _x509.not_after(cert)
    if not_after - now < datetime.timedelta(days=int(renew_days)):
        return "expires %s" % not_after.date()
    return None


def _names(cert, names, ips):
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


def _issuer(cert, issuer_pem):
    """Signed by the current intermediate: same name and a signature its key made (a CA made again under the same
    name is another CA)."""
    if not issuer_pem:
        return None
    issuer = x509.load_pem_x509_certificate(issuer_pem)
    try:
        cert.verify_directly_issued_by(issuer)
        return None
    except (ValueError, TypeError, InvalidSignature):
        names = cert.issuer.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
        return "issued by another CA (%s), not the current intermediate" % (
            names[0].value if names else cert.issuer.rfc4514_string())


def _key(cert, key_pem):
    if key_pem is None:
        return "its private key (tls.key) is missing"
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        return "its private key (tls.key) is unreadable"
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if (key.public_key().public_bytes(serialization.Encoding.DER, spki)
            != cert.public_key().public_bytes(serialization.Encoding.DER, spki)):
        return "its private key (tls.key) does not belong to it"
    return None


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


class Access(object):
    """What the action does, on one VaultApi: log in as the service, read its secrets, keep its certificate.

    Raises VaultError with a message naming the file, the service or the Vault operation (never a secret).
    """

    def __init__(self, api, vault_dir, tokens, check_mode=False):
        self.api, self.vault_dir, self.tokens, self.check = api, vault_dir, tokens, check_mode

    def login(self, service, force=False):
        cached = self.tokens.get(service) or {}
        if not force and cached.get("token") and cached.get("expires", 0) > time.time() + 60:
            self.api.client.token = cached["token"]
            return False
        path = os.path.join(self.vault_dir, "approles", service + ".json")
        raw = _read(path)
        if raw is None:
            raise VaultError("No Vault credential for %s at %s. Run the vault role first (ansible-playbook "
                             "playbooks/vault.yml, or site.yml) with the same inventory." % (service, path))
        try:
            cred = json.loads(to_text(raw))
            body = {"role_id": cred["role_id"], "secret_id": cred["secret_id"]}
        except (ValueError, KeyError, TypeError):
            raise VaultError("%s is not an AppRole credential file (role_id, secret_id). Run the vault role again "
                             "to rewrite it." % path) from None
        self.api.client.token = None
        try:
            auth = self.api.call("POST", "auth/approle/login", body,
                                 what="the AppRole login of %s" % service)[1]["auth"]
        except VaultError as exc:
            if exc.status is None:
                raise
            raise VaultError("%s. Run the vault role again: it renews a credential that no longer works."
                             % exc) from None
        self.api.client.token = auth["client_token"]
        self.tokens[service] = {"token": auth["client_token"],
                                "expires": time.time() + int(auth.get("lease_duration") or 300)}
        return True

    def secret(self, name):
        status, body = self.api.call("GET", "secret/data/%s" % name, missing_ok=True,
                                     what="reading secret secret/%s" % name)
        data = ((body or {}).get("data") or {}).get("data")
        if status == 404 or data is None:
            raise VaultError("secret/%s does not exist (or its latest version is deleted). Run the vault role (it "
                             "creates every enabled component's secret, and restores a deleted one)." % name)
        return data

    def own_secret(self, service):
        self.login(service)
        try:
            return self.secret(service)
        except VaultError as exc:
            if exc.status != 403:
                raise
        self.login(service, force=True)  # a cached token revoked behind our back: log in once more
        return self.secret(service)

    def current_ca(self):
        body = self.api.call("GET", "pki_int/cert/ca", what="reading the current intermediate CA (pki_int/cert/ca)")[1]
        return to_bytes(((body or {}).get("data") or {}).get("certificate") or "") or None

    def certificate(self, request, tls_dir, renew_days=30):
        """Why a certificate was issued (or would be in check mode), else None; and whether a file was written."""
        os.makedirs(tls_dir, mode=0o700, exist_ok=True)
        names = [request["common_name"], *(request.get("alt_names") or [])]
        ips = list(request.get("ip_sans") or [])
        why = cert_needs_renewal(_read(os.path.join(tls_dir, "tls.crt")), names, ips, renew_days,
                                 issuer_pem=self.current_ca(), key_pem=_read(os.path.join(tls_dir, "tls.key")))
        changed = False
        if why and not self.check:
            data = self.api.call("POST", "pki_int/issue/%s" % request["role"], {
                "common_name": request["common_name"], "alt_names": ",".join(request.get("alt_names") or []),
                "ip_sans": ",".join(ips)}, what="issuing a certificate for %s from the role %s"
                % (", ".join(names + ips), request["role"]))[1]["data"]
            chain = [data["certificate"]] + [c for c in data.get("ca_chain") or [] if c != data["certificate"]]
            atomic_write(os.path.join(tls_dir, "tls.key"), to_bytes(data["private_key"].strip() + "\n"), mode=0o600)
            atomic_write(os.path.join(tls_dir, "tls.crt"), to_bytes("\n".join(c.strip() for c in chain) + "\n"),
                         mode=0o600)
            changed = True
        root = _read(os.path.join(self.vault_dir, "ca", "root-ca.pem"))
        if root is None:
            raise VaultError("%s/ca/root-ca.pem is missing. Run the vault role: it exports the CA." % self.vault_dir)
        if _read(os.path.join(tls_dir, "ca.crt")) != root and not self.check:
            atomic_write(os.path.join(tls_dir, "ca.crt"), root, mode=0o600)
            changed = True
        return why, changed


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("request", "cert", "read_secrets", "url", "vault_dir", "tls_dir", "renew_days"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        if not HAS_HVAC or not HAS_CRYPTOGRAPHY:
            raise AnsibleActionFail("vault_access needs the Python packages hvac and cryptography on the controller")
        args = self._task.args
        request = args.get("request") or {}
        service = request.get("service")
        if not service:
            raise AnsibleActionFail("vault_access needs request.service (see the cert_request filter)")
        tokens = dict((task_vars or {}).get("_devenv_vault_tokens") or {})
        access = Access(VaultApi(connect({"url": args["url"], "timeout": 30}), args["url"]), args["vault_dir"], tokens,
                        self._task.check_mode)
        changed = False
        try:
            secret = access.own_secret(service)
            secrets = dict((other, access.secret(other)) for other in args.get("read_secrets") or [])
            if args.get("cert", True):
                why, changed = access.certificate(request, args["tls_dir"], args.get("renew_days", 30))
                if why:
                    result["certificate"] = "issued (%s)" % why
        except VaultError as exc:
            # No secret in here: the messages name files, services and Vault operations only.
            result.update(failed=True, msg="%s: %s" % (service, exc))
            return result
        result.update(changed=changed, _ansible_no_log=True, secret=secret, secrets=secrets, tls_dir=args["tls_dir"],
                      tokens=tokens)
        return result
