#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vault_pki_bootstrap
short_description: Bring up KV v2 and a two-tier PKI (root and intermediate CA) in Vault or OpenBao
version_added: 0.1.0
description:
  - Ensures a KV version 2 engine at O(kv_mount).
  - Ensures a root CA at O(root_mount) and an intermediate CA at O(intermediate_mount), signed by the root,
    with C(config/urls) on both mounts. Each CA is generated only when its mount has no issuer, so a re-run
    never adds a second issuer (on Vault 1.11 and later a second C(root/generate) silently would).
  - Finishes a half-done intermediate (a key but no issuer, for example after an interrupted run) by making
    a new CSR for the existing key, instead of failing or generating another key.
  - Ensures the certificate roles in O(roles), comparing them with what Vault has after normalising TTLs to
    seconds and lists, and writes only the roles that differ.
  - Exports the CA certificates to O(export_dir).
  - Works against HashiCorp Vault and OpenBao. PEM bodies travel as JSON strings, so multi-line PEM is safe.
author:
  - colima_services.devenv maintainers
extends_documentation_fragment:
  - colima_services.devenv.vault
  - colima_services.devenv.vault.token
attributes:
  check_mode:
    support: full
    description: Reads everything and returns the list of actions it would take; writes nothing.
  diff_mode:
    support: full
    description: Returns the mounts, issuer counts, URLs and roles before and after.
options:
  kv_mount:
    description: Path of the KV version 2 engine.
    type: str
    default: secret
  root_mount:
    description: Path of the root CA's PKI engine.
    type: str
    default: pki
  intermediate_mount:
    description: Path of the intermediate CA's PKI engine.
    type: str
    default: pki_int
  accept_mount_mismatch:
    description:
      - Go on when a mount exists with the wrong type or KV version, leaving it as it is.
      - By default the module fails and names the mount.
    type: bool
    default: false
  root_common_name:
    description: Common name of the root CA.
    type: str
    default: Colima Services Root CA
  intermediate_common_name:
    description: Common name of the intermediate CA.
    type: str
    default: Colima Services Intermediate CA
  root_ttl:
    description: Lifetime of the root CA, and max lease TTL of its mount.
    type: str
    default: 87600h
  intermediate_ttl:
    description: Lifetime of the intermediate CA, and max lease TTL of its mount.
    type: str
    default: 43800h
  key_type:
    description: Key type of both CAs.
    type: str
    default: rsa
    choices: [rsa, ec, ed25519]
  key_bits:
    description: Key size of both CAs.
    type: int
    default: 2048
  public_url:
    description:
      - Base URL written into C(config/urls) (issuing certificate and CRL locations). Defaults to O(url).
    type: str
  roles:
    description: Certificate roles on the intermediate mount.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Role name, for example C(postgres-role).
        type: str
        required: true
      allowed_domains:
        description: Domains the role may issue for.
        type: list
        elements: str
        default: []
      allow_subdomains:
        description: Allow subdomains of O(roles[].allowed_domains).
        type: bool
        default: true
      allow_bare_domains:
        description: Allow the domains themselves.
        type: bool
        default: true
      allow_localhost:
        description: Allow C(localhost).
        type: bool
        default: true
      allow_ip_sans:
        description: Allow IP subject alternative names.
        type: bool
        default: true
      allowed_ip_sans_cidr:
        description:
          - The IP ranges (CIDR) the role may issue IP SANs for; empty allows any IP (OpenBao 2.5 and later).
        type: list
        elements: str
        default: []
      ttl:
        description: Default certificate lifetime.
        type: str
        default: 8760h
      max_ttl:
        description: Longest certificate lifetime.
        type: str
        default: 8760h
      server_flag:
        description: Certificates may serve TLS.
        type: bool
        default: true
      client_flag:
        description: Certificates may authenticate TLS clients.
        type: bool
        default: true
  remove_roles:
    description:
      - Certificate roles to delete from the intermediate mount when they exist, for example the names an earlier
        release used. A name that is also in O(roles) is kept. Certificates issued from them stay valid.
    type: list
    elements: str
    default: []
  permitted_dns_domains:
    description:
      - Name constraints of both CAs (RFC 5280 permitted DNS subtrees; C(localhost) also permits C(*.localhost)).
        Clients that check name constraints then refuse a certificate for any other name, whoever issued it.
      - OpenBao has no IP name constraints for CAs; restrict IPs with O(roles[].allowed_ip_sans_cidr).
      - An existing CA whose constraints differ is left alone and RV(ca_reissue_needed) says so, unless O(reissue_ca).
    type: list
    elements: str
    default: []
  reissue_ca:
    description:
      - When the CAs' name constraints differ from O(permitted_dns_domains), make a new root and intermediate with
        them and set them as the default issuers (the old issuers stay, so what they signed can still be checked).
    type: bool
    default: false
  export_dir:
    description:
      - Directory that receives C(root-ca.pem) (the trust anchor), C(ca-chain.pem) (the intermediate CA,
        what a server sends after its own certificate) and C(full-chain.pem) (intermediate then root).
      - Files are written atomically with mode 0644 (they are public), only when their content differs.
      - Set to an empty string to export nothing.
    type: path
    default: ~/.config/vault/ca
"""

EXAMPLES = r"""
- name: KV v2, root and intermediate CA, and one role per service
  colima_services.devenv.vault_pki_bootstrap:
    token_file: ~/.config/vault/root-token
    roles:
      - name: postgres-role
        allowed_domains: [postgres, postgres.dev-services.local, localhost]
"""

RETURN = r"""
actions:
  description: What the module did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["enable kv-v2 at secret", "generate root CA at pki", "write role postgres-role"]
root_ca_pem:
  description: The root CA certificate (empty in check mode before it exists).
  returned: always
  type: str
intermediate_ca_pem:
  description: The intermediate CA certificate.
  returned: always
  type: str
ca_chain_pem:
  description: Intermediate then root.
  returned: always
  type: str
ca_reissue_needed:
  description: The CAs lack the wanted name constraints and were left alone (O(reissue_ca) not set).
  returned: always
  type: bool
ca_reissue_message:
  description: What to do about it (empty when nothing is needed); also given as a warning.
  returned: always
  type: str
exported:
  description: Files written under O(export_dir) by this run.
  returned: always
  type: list
  elements: str
diff:
  description: Before and after state of mounts, issuers, URLs and roles.
  returned: when diff mode is on
  type: dict
"""

import copy
import os
import time

from ansible_collections.colima_services.devenv.plugins.module_utils._vault import (
    Planner,
    VaultError,
    atomic_write,
    duration_seconds,
    read_text,
    run_token_module,
)

ROLE_FIELDS = ("allowed_domains", "allow_subdomains", "allow_bare_domains", "allow_localhost", "allow_ip_sans",
               "allowed_ip_sans_cidr", "ttl", "max_ttl", "server_flag", "client_flag")
LIST_FIELDS = ("allowed_domains", "allowed_ip_sans_cidr")


def as_list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def normalise_role(role):
    """The comparable form of a role: TTLs in seconds, lists sorted."""
    out = {}
    for field in ROLE_FIELDS:
        value = role.get(field)
        if field in ("ttl", "max_ttl"):
            value = duration_seconds(value)
        elif field in LIST_FIELDS:
            value = sorted(as_list(value))
        else:
            value = bool(value)
        out[field] = value
    return out


def first_pem(bundle):
    """The first certificate of a PEM bundle."""
    end = "-----END CERTIFICATE-----"
    return bundle[:bundle.index(end) + len(end)] + "\n" if end in bundle else bundle


def permitted_dns_domains(pem):
    """The permitted DNS names of a CA certificate's name constraints, sorted; [] without the extension."""
    from cryptography import x509

    if not pem:
        return []
    cert = x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
    try:
        value = cert.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return []
    return sorted(n.value for n in value.permitted_subtrees or [] if isinstance(n, x509.DNSName))


def pem_join(*pems):
    return "".join(p.strip() + "\n" for p in pems if p and p.strip())


class Bootstrap(Planner):
    def __init__(self, module, api):
        super(Bootstrap, self).__init__(module, api)
        self.before = {}
        self.after = {}
        self.planned_mounts = set()

    # -- mounts ---------------------------------------------------------------------------------
    def ensure_mount(self, mounts, path, kind, max_ttl=None):
        current = mounts.get(path)
        state = None
        if current:
            state = current["type"] + ("-v%s" % (current.get("options") or {}).get("version", "1")
                                       if current["type"] == "kv" else "")
        want = "kv-v2" if kind == "kv" else "pki"
        self.before["mount " + path] = state
        self.after["mount " + path] = want if not current else state
        if current is None:
            body = {"type": kind}
            if kind == "kv":
                body["options"] = {"version": "2"}
            if max_ttl:
                body["config"] = {"max_lease_ttl": max_ttl}
            self.act("enable %s at %s" % (want, path), "POST", "sys/mounts/%s" % path, body)
            self.planned_mounts.add(path)
            return True
        if state != want:
            if self.params["accept_mount_mismatch"]:
                self.module.warn("%s is a %s mount, not %s; left as it is (accept_mount_mismatch)."
                                 % (path, state, want))
                return False
            raise VaultError(
                "The mount %s/ is a %s engine, but %s is needed. Point the option at another path, or move the "
                "existing engine (vault secrets move %s/ OTHER/), or set accept_mount_mismatch to use it as it is."
                % (path, state, want, path)
            )
        if max_ttl:
            tune = self.api.call("GET", "sys/mounts/%s/tune" % path, what="reading the tuning of %s" % path)[1]
            tune = tune.get("data", tune)
            if int(tune.get("max_lease_ttl") or 0) != duration_seconds(max_ttl):
                self.act("tune max_lease_ttl of %s to %s" % (path, max_ttl), "POST", "sys/mounts/%s/tune" % path,
                         {"max_lease_ttl": max_ttl})
        return True

    def fresh(self, mount):
        """A mount that this check-mode run would create: nothing to read from it yet."""
        return self.check and mount in self.planned_mounts

    def issuers(self, mount):
        return [] if self.fresh(mount) else self.api.listing("%s/issuers" % mount, "listing issuers of %s" % mount)

    def keys(self, mount):
        return [] if self.fresh(mount) else self.api.listing("%s/keys" % mount, "listing keys of %s" % mount)

    def ca_pem(self, mount):
        if self.check and not self.issuers(mount):
            return ""
        body = self.api.call("GET", "%s/cert/ca" % mount, what="reading the CA of %s" % mount)[1]
        return ((body or {}).get("data") or {}).get("certificate", "")

    # -- CAs ------------------------------------------------------------------------------------
    def ensure_root(self):
        p = self.params
        mount = p["root_mount"]
        existing = self.issuers(mount)
        self.before["issuers " + mount] = len(existing)
        if not existing:
            self.act("generate root CA at %s" % mount, "POST", "%s/root/generate/internal" % mount, {
                "common_name": p["root_common_name"], "ttl": p["root_ttl"], "key_type": p["key_type"],
                "key_bits": p["key_bits"], "issuer_name": "root-ca",
                "permitted_dns_domains": p["permitted_dns_domains"],
            })
        self.after["issuers " + mount] = max(len(existing), 1)

    def ensure_intermediate(self):
        p = self.params
        mount, root = p["intermediate_mount"], p["root_mount"]
        existing = self.issuers(mount)
        self.before["issuers " + mount] = len(existing)
        self.after["issuers " + mount] = max(len(existing), 1)
        if existing:
            return
        keys = self.keys(mount)
        if keys:
            # Half-done: a key was generated but its signed certificate never set. Reuse the key.
            csr = self.act("resume intermediate CA at %s with existing key %s" % (mount, keys[0]), "POST",
                           "%s/intermediate/generate/existing" % mount,
                           {"common_name": p["intermediate_common_name"], "key_ref": keys[0]})
        else:
            csr = self.act("generate intermediate CA key and CSR at %s" % mount, "POST",
                           "%s/intermediate/generate/internal" % mount,
                           {"common_name": p["intermediate_common_name"], "key_type": p["key_type"],
                            "key_bits": p["key_bits"], "key_name": "intermediate"})
        signed = self.act("sign the intermediate CA with the root at %s" % root, "POST",
                          "%s/root/sign-intermediate" % root,
                          {"csr": (csr.get("data") or {}).get("csr", ""), "common_name": p["intermediate_common_name"],
                           "format": "pem_bundle", "ttl": p["intermediate_ttl"],
                           "permitted_dns_domains": p["permitted_dns_domains"]})
        # The pem_bundle holds the intermediate and then its issuer. Import only the intermediate: the root
        # already lives in its own mount, and importing it here too would add a second (keyless) issuer.
        self.act("set the signed intermediate CA at %s" % mount, "POST", "%s/intermediate/set-signed" % mount,
                 {"certificate": first_pem((signed.get("data") or {}).get("certificate", ""))})

    def constraints_differ(self):
        """The CAs whose name constraints are not the wanted ones (an environment from before them, or the set of
        names changed). Nothing to compare when no constraint is wanted, or in check mode before the CAs exist."""
        want = sorted(self.params["permitted_dns_domains"])
        if not want:
            return []
        return [mount for mount in (self.params["root_mount"], self.params["intermediate_mount"])
                if self.issuers(mount) and permitted_dns_domains(self.ca_pem(mount)) != want]

    def reissue(self):
        """A new root and intermediate with the wanted constraints, made the default issuers of their mounts. The old
        issuers stay (what they signed can still be checked and revoked); the roles issue from the new ones."""
        p = self.params
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        root = self.act("re-issue the root CA at %s" % p["root_mount"], "POST",
                        "%s/root/generate/internal" % p["root_mount"], {
                            "common_name": p["root_common_name"], "ttl": p["root_ttl"], "key_type": p["key_type"],
                            "key_bits": p["key_bits"], "issuer_name": "root-ca-%s" % stamp,
                            "key_name": "root-%s" % stamp,
                            "permitted_dns_domains": p["permitted_dns_domains"]})
        self.act("make the new root CA the default issuer of %s" % p["root_mount"], "POST",
                 "%s/config/issuers" % p["root_mount"], {"default": (root.get("data") or {}).get("issuer_id", "")})
        csr = self.act("re-issue the intermediate CA at %s" % p["intermediate_mount"], "POST",
                       "%s/intermediate/generate/internal" % p["intermediate_mount"],
                       {"common_name": p["intermediate_common_name"], "key_type": p["key_type"],
                        "key_bits": p["key_bits"], "key_name": "intermediate-%s" % stamp})
        signed = self.act("sign the new intermediate CA with the new root", "POST",
                          "%s/root/sign-intermediate" % p["root_mount"],
                          {"csr": (csr.get("data") or {}).get("csr", ""), "common_name": p["intermediate_common_name"],
                           "format": "pem_bundle", "ttl": p["intermediate_ttl"],
                           "permitted_dns_domains": p["permitted_dns_domains"]})
        imported = self.act("set the new intermediate CA at %s" % p["intermediate_mount"], "POST",
                            "%s/intermediate/set-signed" % p["intermediate_mount"],
                            {"certificate": first_pem((signed.get("data") or {}).get("certificate", ""))})
        self.act("make the new intermediate CA the default issuer of %s" % p["intermediate_mount"], "POST",
                 "%s/config/issuers" % p["intermediate_mount"],
                 {"default": ((imported.get("data") or {}).get("imported_issuers") or [""])[0]})

    def ensure_constraints(self):
        """The warning to give when the CAs still lack the wanted constraints (re-issue not asked for), else ''."""
        outdated = self.constraints_differ()
        if outdated and self.params["reissue_ca"]:
            self.reissue()
            return ""
        if outdated:
            message = (
                "The CA certificates at %s do not carry the name constraints this environment wants (%s): they were "
                "made before them, or the set of names changed. They can still sign for any name. Re-issue the CA "
                "chain with -e vault_pki_reissue_ca=true: that makes a new root and intermediate, the service "
                "certificates are issued again on the next run of their roles, and you must trust the new root-ca.pem "
                "where you trusted the old one."
                % (", ".join(outdated), ", ".join(self.params["permitted_dns_domains"])))
            self.module.warn(message)
            return message
        return ""

    def ensure_urls(self, mount):
        base = (self.params["public_url"] or self.params["url"]).rstrip("/")
        want = {"issuing_certificates": ["%s/v1/%s/ca" % (base, mount)],
                "crl_distribution_points": ["%s/v1/%s/crl" % (base, mount)]}
        current = {}
        if not self.fresh(mount):
            body = self.api.call("GET", "%s/config/urls" % mount, missing_ok=True,
                                 what="reading config/urls of %s" % mount)[1]
            data = (body or {}).get("data") or {}
            current = dict((k, as_list(data.get(k))) for k in want)
        self.before["urls " + mount] = current
        self.after["urls " + mount] = want
        if current != want:
            self.act("configure urls of %s" % mount, "POST", "%s/config/urls" % mount, want)

    # -- roles ----------------------------------------------------------------------------------
    def ensure_roles(self):
        mount = self.params["intermediate_mount"]
        for role in self.params["roles"]:
            want = normalise_role(role)
            current = None
            if not self.fresh(mount):
                body = self.api.call("GET", "%s/roles/%s" % (mount, role["name"]), missing_ok=True,
                                     what="reading role %s" % role["name"])[1]
                if body:
                    current = normalise_role(body.get("data") or {})
            self.before["role " + role["name"]] = current
            self.after["role " + role["name"]] = want
            if current != want:
                body = dict((f, role[f]) for f in ROLE_FIELDS)
                self.act("%s role %s" % ("update" if current else "write", role["name"]), "POST",
                         "%s/roles/%s" % (mount, role["name"]), body)

    def remove_roles(self):
        mount = self.params["intermediate_mount"]
        keep = set(role["name"] for role in self.params["roles"])
        for name in self.params["remove_roles"]:
            if name in keep or self.fresh(mount):
                continue
            if self.api.call("GET", "%s/roles/%s" % (mount, name), missing_ok=True, what="reading role %s" % name)[1]:
                self.before["role " + name] = "present"
                self.after["role " + name] = None
                self.act("remove role %s" % name, "DELETE", "%s/roles/%s" % (mount, name))

    # -- export ---------------------------------------------------------------------------------
    def export(self, files):
        directory = self.params["export_dir"]
        written = []
        if not directory:
            return written
        directory = os.path.expanduser(directory)
        for name, content in files.items():
            path = os.path.join(directory, name)
            if not content or read_text(path) == content:
                continue
            self.actions.append("export %s" % path)
            written.append(path)
            if not self.check:
                atomic_write(path, content, mode=0o644)
        return written

    def run(self):
        p = self.params
        mounts = self.api.mounts()
        self.ensure_mount(mounts, p["kv_mount"], "kv")
        self.ensure_mount(mounts, p["root_mount"], "pki", p["root_ttl"])
        self.ensure_mount(mounts, p["intermediate_mount"], "pki", p["intermediate_ttl"])
        self.ensure_root()
        self.ensure_intermediate()
        reissue_message = self.ensure_constraints()
        self.ensure_urls(p["root_mount"])
        self.ensure_urls(p["intermediate_mount"])
        self.ensure_roles()
        self.remove_roles()
        root_pem = self.ca_pem(p["root_mount"])
        int_pem = self.ca_pem(p["intermediate_mount"])
        chain = pem_join(int_pem, root_pem) if int_pem and root_pem else ""
        exported = self.export({"root-ca.pem": pem_join(root_pem), "ca-chain.pem": pem_join(int_pem),
                                "full-chain.pem": chain})
        result = dict(changed=bool(self.actions), actions=self.actions, ca_reissue_needed=bool(reissue_message),
                      ca_reissue_message=reissue_message,
                      root_ca_pem=pem_join(root_pem),
                      intermediate_ca_pem=pem_join(int_pem), ca_chain_pem=chain, exported=exported)
        if self.module._diff:
            result["diff"] = dict(before=copy.deepcopy(self.before), after=copy.deepcopy(self.after))
        return result


def main():
    role_spec = dict(
        name=dict(type="str", required=True),
        allowed_domains=dict(type="list", elements="str", default=[]),
        allow_subdomains=dict(type="bool", default=True),
        allow_bare_domains=dict(type="bool", default=True),
        allow_localhost=dict(type="bool", default=True),
        allow_ip_sans=dict(type="bool", default=True),
        allowed_ip_sans_cidr=dict(type="list", elements="str", default=[]),
        ttl=dict(type="str", default="8760h"),
        max_ttl=dict(type="str", default="8760h"),
        server_flag=dict(type="bool", default=True),
        client_flag=dict(type="bool", default=True),
    )
    args = dict(
        kv_mount=dict(type="str", default="secret"),
        root_mount=dict(type="str", default="pki"),
        intermediate_mount=dict(type="str", default="pki_int"),
        accept_mount_mismatch=dict(type="bool", default=False),
        root_common_name=dict(type="str", default="Colima Services Root CA"),
        intermediate_common_name=dict(type="str", default="Colima Services Intermediate CA"),
        root_ttl=dict(type="str", default="87600h"),
        intermediate_ttl=dict(type="str", default="43800h"),
        key_type=dict(type="str", default="rsa", choices=["rsa", "ec", "ed25519"]),
        key_bits=dict(type="int", default=2048),
        public_url=dict(type="str"),
        roles=dict(type="list", elements="dict", default=[], options=role_spec),
        remove_roles=dict(type="list", elements="str", default=[]),
        permitted_dns_domains=dict(type="list", elements="str", default=[]),
        reissue_ca=dict(type="bool", default=False),
        export_dir=dict(type="path", default="~/.config/vault/ca"),
    )
    run_token_module(args, lambda module, api: Bootstrap(module, api).run(),
                     durations=lambda p: [r[f] for r in p["roles"] for f in ("ttl", "max_ttl")])


if __name__ == "__main__":
    main()
