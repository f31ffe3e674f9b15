# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The attribute every module of this collection that is really an action plugin declares.
    ACTION = r"""
attributes:
  action:
    support: full
    description: Runs on the controller as an action plugin.
"""

    # The options the backup and restore actions share: what to work on, and how to reach Docker and Vault.
    BACKUP = r"""
options:
  plan:
    description: The resolved registry (C(_devenv_plan)) - which components are enabled and, for a backup, each one's
      C(backup.method).
    type: dict
    required: true
  settings:
    description: The devenv settings (C(_devenv_settings)) - C(docker_host), C(container_prefix), C(labels),
      C(health_timeout).
    type: dict
    required: true
  vault_url:
    description: Vault's API on the host.
    type: str
    required: true
  vault_dir:
    description: Directory with Vault's C(root-token) and C(keys.json) (C(devenv_vault_dir)).
    type: path
    required: true
"""
