# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""What a reset may remove on the host (the controller is the host), and Docker's dynamic range on our network.
The decisions live in module_utils/_preflight.py; these filters read the paths and markers they decide on."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.colima_services.devenv.plugins.module_utils import _preflight as pf


def reset_refusals(devenv_home, vault_dir, instance, user_home, remove_vault_keys=True):
    """Every reason the reset must not remove devenv_home/services or (with remove_vault_keys) devenv_vault_dir.
    Vault's directory may be inside devenv_home, or for the instance `default` its path of old, ~/.config/vault."""
    problems = pf.removal_problems(devenv_home, "devenv_home", user_home, [devenv_home], [])
    if remove_vault_keys and os.path.lexists(os.path.expanduser(str(vault_dir))):
        allowed = [os.path.join(user_home, ".config", "vault")] if instance == "default" else []
        problems += pf.removal_problems(vault_dir, "devenv_vault_dir", user_home, allowed, [devenv_home], instance,
                                        pf.read_marker(vault_dir), needs_marker=True)
    return problems


def dynamic_range(subnet, ip_range=""):
    """Docker's dynamic range on our network: devenv_network_ip_range, else the subnet's last eighth ("" for none)."""
    return pf.dynamic_range(subnet, ip_range) or ""


class FilterModule(object):
    def filters(self):
        return {"reset_refusals": reset_refusals, "dynamic_range": dynamic_range}
