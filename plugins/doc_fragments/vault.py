# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Connection options shared by the vault_* modules.
    DOCUMENTATION = r"""
options:
  url:
    description:
      - Address of the Vault or OpenBao API as this host reaches it (the published loopback port).
    type: str
    default: http://127.0.0.1:8200
  ca_cert:
    description:
      - PEM file of the CA that signed the API's certificate, for an C(https://) O(url).
    type: path
  validate_certs:
    description:
      - Verify the API's certificate. Only for C(https://) URLs.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each API call, and for the API to answer at all.
    type: int
    default: 30
requirements:
  - hvac >= 2.1 (the Python client for Vault)
"""

    TOKEN = r"""
options:
  token:
    description:
      - Vault token to act with. Takes precedence over O(token_file).
    type: str
  token_file:
    description:
      - File holding the token, as written by M(colima_services.devenv.vault_init).
    type: path
    default: ~/.config/vault/root-token
"""
