# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Filters of the edge (Traefik): the basic-auth line of a user, hashed with bcrypt."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib

from ansible.errors import AnsibleFilterError

try:
    import bcrypt
    HAS_BCRYPT = True
except ImportError:
    HAS_BCRYPT = False

_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _salt(seed, user, password):
    """22 characters of bcrypt's base64 from the install's random seed (kept in Vault next to the password), the user
    and the password: the same line on every run of one install (so a re-run changes nothing), a different one on
    every install, even for the same login."""
    text = "devenv-edge:%s:%s:%s" % (seed, user, password)
    digest = hashlib.sha256(text.encode("utf-8")).digest()[:16]
    return base64.b64encode(digest).decode("ascii").rstrip("=").translate(str.maketrans(_STD, _BCRYPT))[:22]


def htpasswd_line(password, user, salt_seed, rounds=10):
    """'user:$2b$10$...' for Traefik's basicAuth usersFile. Errors never contain the password."""
    if not HAS_BCRYPT:
        raise AnsibleFilterError("htpasswd_line needs the Python package bcrypt on the controller: "
                                 "pip install -r requirements.txt (it lists bcrypt)")
    if not isinstance(password, str) or not password or not isinstance(user, str) or not user or ":" in user:
        raise AnsibleFilterError("htpasswd_line needs a non-empty password and a user name without ':' (user %r)"
                                 % (user if isinstance(user, str) else type(user).__name__))
    if not isinstance(salt_seed, str) or not salt_seed:
        raise AnsibleFilterError("htpasswd_line needs the install's salt seed (a random value the vault role generates "
                                 "next to the password, e.g. secret/traefik's salt): run the vault role first")
    prefix = ("$2b$%02d$%s" % (int(rounds), _salt(salt_seed, user, password))).encode("ascii")
    return "%s:%s" % (user, bcrypt.hashpw(password.encode("utf-8")[:72], prefix).decode("ascii"))


class FilterModule(object):
    def filters(self):
        return {"htpasswd_line": htpasswd_line}
