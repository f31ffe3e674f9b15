#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vault_access
short_description: A service's secret and certificate, read with its own AppRole
version_added: 0.2.0
description:
  - Runs on the controller (action plugin). Logs in with the service's own AppRole credential
    (C(<vault_dir>/approles/<service>.json), written by the C(vault_service_access) module), reads its KV v2
    secret at C(secret/<service>) and the other secrets in O(read_secrets).
  - The login happens once per service and run - the token comes back in RV(tokens) and is reused by the next call
    while it is valid (the C(vault_access) entry point keeps it in C(_devenv_vault_tokens)).
  - With O(cert), issues a certificate through the service's certificate role only when the one in O(tls_dir) is
    missing, expires within O(renew_days), or names other names or IPs than the wanted ones; writes C(tls.key),
    C(tls.crt) (certificate and intermediate) and C(ca.crt) (root CA) there, mode 0600, atomically.
  - The result holds secrets, so it is always hidden (no_log). Error messages name files and services, never a secret.
author:
  - colima_services.devenv maintainers
attributes:
  check_mode:
    support: full
    description: Reads, but issues and writes nothing.
  diff_mode:
    support: none
  action:
    support: full
    description: Runs on the controller.
requirements:
  - hvac
  - cryptography
options:
  request:
    description: What to ask for, as the C(colima_services.devenv.cert_request) filter gives it - C(service), C(role),
      C(common_name), C(alt_names), C(ip_sans).
    type: dict
    required: true
  cert:
    description: Fetch a certificate too.
    type: bool
    default: true
  read_secrets:
    description: Other secrets to read (the service's policy must allow them).
    type: list
    elements: str
    default: []
  url:
    description: Vault's address.
    type: str
    required: true
  vault_dir:
    description: The vault role's host directory (C(approles/), C(ca/root-ca.pem)).
    type: path
    required: true
  tls_dir:
    description: Where the TLS files go.
    type: path
    required: true
  renew_days:
    description: Issue again when the certificate expires within this many days.
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: PostgreSQL's secret and certificate
  colima_services.devenv.vault_access:
    request: "{{ _devenv_plan | colima_services.devenv.cert_request('postgres') }}"
    read_secrets: [forgejo]
    url: http://127.0.0.1:8200
    vault_dir: ~/.config/vault
    tls_dir: ~/.local/share/colima-services/default/services/postgres
  register: _access
"""

RETURN = r"""
secret:
  description: The service's secret (hidden from the output).
  returned: success
  type: dict
secrets:
  description: The other secrets read, by name.
  returned: success
  type: dict
tls_dir:
  description: Where the TLS files are.
  returned: success
  type: str
tokens:
  description: Cached AppRole tokens by service, with their expiry, for the next call.
  returned: success
  type: dict
certificate:
  description: Why a certificate was issued (or would be, in check mode).
  returned: when one was issued
  type: str
"""
