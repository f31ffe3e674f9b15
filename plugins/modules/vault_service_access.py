#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vault_service_access
short_description: Per-service credentials, policy and AppRole login in Vault or OpenBao
version_added: 0.1.0
description:
  - For each service in O(services), ensures
  - a KV v2 secret at C(<kv_mount>/<name>), created once with C(cas=0) and random passwords, and never
    rotated. Fields added to the layout later are filled in; existing values are never changed. A soft-deleted
    latest version is undeleted; a destroyed one stops the module unless the secret is in O(regenerate);
  - a policy C(<name>-policy) that may read C(<kv_mount>/data/<name>) (and O(services[].read_secrets)),
    update C(<pki_mount>/issue/<cert_role>) (O(services[].cert_role)) and read the CA chain, and nothing else;
  - an AppRole C(<name>) whose tokens carry only that policy, and a credential file
    C(<credentials_dir>/<name>.json) (mode 0600) with its C(role_id) and a C(secret_id). A new secret ID is
    made only when the file is missing or its secret ID no longer works.
  - community.hashi_vault has no module for policies or AppRoles, and its M(community.hashi_vault.vault_kv2_write)
    cannot generate a value once and share it across secrets; consumers read secrets and issue certificates
    with community.hashi_vault's lookups and modules, logging in with the credential file.
  - Never returns a password, secret ID or token.
author:
  - colima_services.devenv maintainers
extends_documentation_fragment:
  - colima_services.devenv.vault
  - colima_services.devenv.vault.token
attributes:
  check_mode:
    support: full
    description: Returns the actions it would take; writes nothing.
  diff_mode:
    support: none
options:
  services:
    description: The services to give access to.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Service name; also the secret path, the policy and AppRole prefix.
        type: str
        required: true
      data:
        description: Fixed fields of the secret, for example C(username) and C(database).
        type: dict
        default: {}
      generate:
        description: Fields filled with a random password of O(password_length) characters, once.
        type: list
        elements: str
        default: [password]
      share_group:
        description:
          - Services with the same group get the same generated values (for example the nodes of a Redis cluster).
        type: str
      read_secrets:
        description: Other services' secrets this service's policy may also read.
        type: list
        elements: str
        default: []
      cert_role:
        description: The certificate role the service may issue from. Default C(<name>-role).
        type: str
  kv_mount:
    description: Path of the KV version 2 engine.
    type: str
    default: secret
  pki_mount:
    description: Path of the PKI engine that issues the services' certificates.
    type: str
    default: pki_int
  root_mount:
    description: Path of the root CA's PKI engine (policies may read its CA certificate).
    type: str
    default: pki
  approle_mount:
    description: Path of the AppRole auth method; enabled when missing.
    type: str
    default: approle
  credentials_dir:
    description: Directory of the per-service credential files.
    type: path
    default: ~/.config/vault/approles
  regenerate:
    description:
      - Secrets (by name) whose destroyed latest version may be replaced by newly generated values.
      - A secret whose latest version was soft-deleted is always undeleted; one whose latest version was destroyed
        makes the module fail, naming it, unless it is listed here. Values are never re-rolled otherwise.
    type: list
    elements: str
    default: []
  password_length:
    description: Length of generated passwords (letters and digits).
    type: int
    default: 25
  token_ttl:
    description: Lifetime of the tokens a service gets by logging in.
    type: str
    default: 1h
  token_max_ttl:
    description: Longest lifetime of those tokens.
    type: str
    default: 4h
"""

EXAMPLES = r"""
- name: Credentials, policy and AppRole for PostgreSQL and the Redis nodes
  colima_services.devenv.vault_service_access:
    services:
      - name: postgresql
        data: {username: dev_admin, database: dev_database, tls_enabled: true}
      - {name: redis-1, share_group: redis, data: {tls_enabled: true}}
      - {name: redis-2, share_group: redis, data: {tls_enabled: true}}

- name: A role reads its own secret with its own credential
  ansible.builtin.set_fact:
    pg: "{{ lookup('community.hashi_vault.vault_kv2_get', 'postgresql', auth_method='approle',
             role_id=cred.role_id, secret_id=cred.secret_id, url='http://127.0.0.1:8200').secret }}"
  vars:
    cred: "{{ lookup('ansible.builtin.file', '~/.config/vault/approles/postgresql.json') | from_json }}"
  no_log: true
"""

RETURN = r"""
actions:
  description: What the module did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["enable approle auth at approle", "create secret secret/postgresql", "write policy postgresql-policy"]
services:
  description: Per service, where its pieces live (never their values).
  returned: always
  type: dict
  sample:
    postgresql:
      secret_path: secret/postgresql
      policy: postgresql-policy
      approle: postgresql
      pki_role: postgresql-role
      credential_file: /home/dev/.config/vault/approles/postgresql.json
"""

import json
import os
import secrets
import string

from ansible_collections.colima_services.devenv.plugins.module_utils._vault import (
    Planner,
    VaultError,
    atomic_write,
    duration_seconds,
    read_text,
    run_token_module,
)

ALPHABET = string.ascii_letters + string.digits


def policy_text(name, p, read_secrets, cert_role=None):
    lines = ["# Managed by colima_services.devenv: access of the %s service." % name]
    for secret in [name, *sorted(set(read_secrets) - {name})]:
        lines.append('path "%s/data/%s" {\n  capabilities = ["read"]\n}' % (p["kv_mount"], secret))
    lines.append('path "%s/issue/%s" {\n  capabilities = ["update"]\n}' % (p["pki_mount"], cert_role or name + "-role"))
    for path in ("%s/cert/ca_chain" % p["pki_mount"], "%s/ca_chain" % p["pki_mount"],
                 "%s/cert/ca" % p["pki_mount"], "%s/cert/ca" % p["root_mount"]):
        lines.append('path "%s" {\n  capabilities = ["read"]\n}' % path)
    return "\n".join(lines) + "\n"


class Access(Planner):
    def secret(self, name):
        """(data, version, state) of a secret: state is live, absent (never written), deleted (its latest version
        soft-deleted: it can be undeleted) or destroyed (its latest version's data is gone for good)."""
        kv = self.params["kv_mount"]
        body = self.api.call("GET", "%s/data/%s" % (kv, name), missing_ok=True,
                             what="reading secret %s/%s" % (kv, name))[1]
        data = ((body or {}).get("data") or {})
        if data.get("data") is not None:
            return data["data"], (data.get("metadata") or {}).get("version") or 0, "live"  # may be {}: no field
        meta = self.api.call("GET", "%s/metadata/%s" % (kv, name), missing_ok=True,
                             what="reading the metadata of secret %s/%s" % (kv, name))[1]
        meta = (meta or {}).get("data") or {}
        version = meta.get("current_version") or 0
        latest = (meta.get("versions") or {}).get(str(version)) or {}
        if not version:
            return None, 0, "absent"
        return None, version, "destroyed" if latest.get("destroyed") else "deleted"

    def restore(self, name, version):
        """Undelete a soft-deleted latest version and read it back: its values are what the services use."""
        kv = self.params["kv_mount"]
        self.act("undelete version %s of secret %s/%s" % (version, kv, name), "POST", "%s/undelete/%s" % (kv, name),
                 {"versions": [version]})
        if self.check:
            return {}
        data, _version, state = self.secret(name)
        if state != "live":
            raise VaultError("Undeleting version %s of secret %s/%s did not bring it back (it is %s)."
                             % (version, kv, name, state))
        return data

    def destroyed(self, names):
        return VaultError(
            "The latest version of secret %s is destroyed, so its generated values (the passwords the services "
            "were set up with) are gone. Nothing was written. Restore the secret from a backup, or write the old "
            "values back (bao kv put %s/<name> field=value ...); or, if the services can take new passwords "
            "(their data is reset, or you change the passwords in them yourself), run again with "
            "-e '{\"vault_regenerate_secrets\": [%s]}' to generate new values for these secrets only."
            % (", ".join("%s/%s" % (self.params["kv_mount"], n) for n in names), self.params["kv_mount"],
               ", ".join('\"%s\"' % n for n in names)))

    def generate(self):
        value = "".join(secrets.choice(ALPHABET) for _ in range(self.params["password_length"]))
        self.module.no_log_values.add(value)
        return value

    def ensure_secrets(self):
        services = self.params["services"]
        regenerate = set(self.params["regenerate"])
        current = {}
        for svc in services:
            data, version, state = self.secret(svc["name"])
            if state == "deleted":
                data = self.restore(svc["name"], version)
            current[svc["name"]] = (data, version, state)
            for value in (data or {}).values():
                if isinstance(value, str) and value:
                    self.module.no_log_values.add(value)
        lost = [name for name, (_d, _v, state) in current.items() if state == "destroyed" and name not in regenerate]
        if lost:
            raise self.destroyed(sorted(lost))
        # Values shared by a group come from whichever member already has them.
        pool = {}
        for svc in services:
            group, data = svc.get("share_group"), current[svc["name"]][0] or {}
            for field in svc["generate"]:
                if group and data.get(field):
                    pool.setdefault((group, field), data[field])
        for svc in services:
            data, version, state = current[svc["name"]]
            want = dict(svc["data"])
            for field in svc["generate"]:
                key = (svc.get("share_group"), field)
                if svc.get("share_group"):
                    want[field] = pool.setdefault(key, (data or {}).get(field) or self.generate())
                else:
                    want[field] = (data or {}).get(field) or self.generate()
            path = "%s/%s" % (self.params["kv_mount"], svc["name"])
            if data is None:
                self.act("%s secret %s" % ("regenerate" if state == "destroyed" else "create", path), "POST",
                         "%s/data/%s" % (self.params["kv_mount"], svc["name"]),
                         {"options": {"cas": version}, "data": want})
            else:
                missing = sorted(set(want) - set(data))
                if missing:
                    merged = dict(data)
                    merged.update(dict((k, want[k]) for k in missing))
                    self.act("add fields %s to secret %s" % (", ".join(missing), path), "POST",
                             "%s/data/%s" % (self.params["kv_mount"], svc["name"]),
                             {"options": {"cas": version}, "data": merged})

    def ensure_approle_mount(self):
        body = self.api.call("GET", "sys/auth", what="listing auth methods")[1]
        methods = body.get("data", body)
        mount = self.params["approle_mount"].strip("/") + "/"
        if mount not in methods:
            self.act("enable approle auth at %s" % mount.rstrip("/"), "POST", "sys/auth/%s" % mount.rstrip("/"),
                     {"type": "approle"})
            return False
        if methods[mount].get("type") != "approle":
            raise VaultError("The auth mount %s is a %s method, not approle. Set approle_mount to another path."
                             % (mount, methods[mount].get("type")))
        return True

    def ensure_service(self, svc, approle_exists):
        name, p = svc["name"], self.params
        policy_name = "%s-policy" % name
        want_policy = policy_text(name, p, svc["read_secrets"], svc.get("cert_role"))
        body = self.api.call("GET", "sys/policies/acl/%s" % policy_name, missing_ok=True,
                             what="reading policy %s" % policy_name)[1]
        have_policy = ((body or {}).get("data") or {}).get("policy")
        if (have_policy or "").strip() != want_policy.strip():
            self.act("%s policy %s" % ("update" if have_policy else "write", policy_name), "PUT",
                     "sys/policies/acl/%s" % policy_name, {"policy": want_policy})

        role_path = "auth/%s/role/%s" % (p["approle_mount"], name)
        want_role = {"token_policies": [policy_name], "token_ttl": duration_seconds(p["token_ttl"]),
                     "token_max_ttl": duration_seconds(p["token_max_ttl"]), "secret_id_ttl": 0,
                     "secret_id_num_uses": 0}
        have_role = None
        if approle_exists:
            body = self.api.call("GET", role_path, missing_ok=True, what="reading approle %s" % name)[1]
            if body:
                data = body.get("data") or {}
                have_role = dict((k, data.get(k)) for k in want_role)
        if have_role != want_role:
            self.act("%s approle %s" % ("update" if have_role else "write", name), "POST", role_path, want_role)

        cred_path = os.path.join(os.path.expanduser(p["credentials_dir"]), "%s.json" % name)
        if self.check and not (approle_exists and have_role):
            if not os.path.exists(cred_path):
                self.actions.append("write credential file %s" % cred_path)
        else:
            self.ensure_credential(name, role_path, cred_path)
        return dict(secret_path="%s/%s" % (p["kv_mount"], name), policy=policy_name, approle=name,
                    pki_role="%s-role" % name, credential_file=cred_path)

    def ensure_credential(self, name, role_path, cred_path):
        body = self.api.call("GET", role_path + "/role-id", what="reading the role ID of %s" % name)[1]
        role_id = (body.get("data") or {}).get("role_id")
        current = None
        text = read_text(cred_path)
        if text:
            try:
                current = json.loads(text)
                self.module.no_log_values.add(current.get("secret_id") or "")
            except ValueError:
                current = None
        valid = False
        if current and current.get("role_id") == role_id and current.get("secret_id"):
            status, body = self.api.call("POST", role_path + "/secret-id/lookup", {"secret_id": current["secret_id"]},
                                         missing_ok=True, what="checking the secret ID of %s" % name)
            valid = status == 200 and bool((body or {}).get("data"))
        if valid:
            return
        self.actions.append("%s credential file %s" % ("renew" if current else "write", cred_path))
        if self.check:
            return
        secret_id = (self.api.call("POST", role_path + "/secret-id", {},
                                   what="creating a secret ID for %s" % name)[1].get("data") or {}).get("secret_id")
        self.module.no_log_values.add(secret_id)
        atomic_write(cred_path, json.dumps({"role_id": role_id, "secret_id": secret_id,
                                            "mount": self.params["approle_mount"], "url": self.params["url"]},
                                           indent=2) + "\n")

    def run(self):
        names = [s["name"] for s in self.params["services"]]
        duplicates = sorted(set(n for n in names if names.count(n) > 1))
        if duplicates:
            raise VaultError("services lists %s more than once." % ", ".join(duplicates))
        self.ensure_secrets()
        approle_exists = self.ensure_approle_mount()
        services = {}
        for svc in self.params["services"]:
            services[svc["name"]] = self.ensure_service(svc, approle_exists)
        return dict(changed=bool(self.actions), actions=self.actions, services=services)


def main():
    service_spec = dict(
        name=dict(type="str", required=True),
        data=dict(type="dict", default={}),
        generate=dict(type="list", elements="str", default=["password"], no_log=False),
        share_group=dict(type="str"),
        read_secrets=dict(type="list", elements="str", default=[], no_log=False),
        cert_role=dict(type="str"),
    )
    args = dict(
        services=dict(type="list", elements="dict", required=True, options=service_spec),
        kv_mount=dict(type="str", default="secret"),
        pki_mount=dict(type="str", default="pki_int"),
        root_mount=dict(type="str", default="pki"),
        approle_mount=dict(type="str", default="approle"),
        credentials_dir=dict(type="path", default="~/.config/vault/approles"),
        password_length=dict(type="int", default=25, no_log=False),
        regenerate=dict(type="list", elements="str", default=[], no_log=False),
        token_ttl=dict(type="str", default="1h", no_log=False),
        token_max_ttl=dict(type="str", default="4h", no_log=False),
    )
    run_token_module(args, lambda module, api: Access(module, api).run(),
                     durations=lambda p: [p["token_ttl"], p["token_max_ttl"]])


if __name__ == "__main__":
    main()
