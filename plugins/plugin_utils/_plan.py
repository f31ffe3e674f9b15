# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""What a component of the resolved plan is, as its registry entry says (`is: [vault_server]`).

The code asks this instead of testing a component's name or its backup method.
Private to this collection (leading underscore): no compatibility promise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# vault_server: the Vault/OpenBao API; redis_node: a Redis Cluster node.
MARKERS = ("vault_server", "redis_node")


def is_a(entry, marker):
    """True when the entry's `is` (a list, or one name) holds marker."""
    value = (entry or {}).get("is") or []
    return marker in ([value] if isinstance(value, str) else list(value))
