# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: recipe_hash
short_description: Content hash of one or more image recipe directories
version_added: 0.1.0
author:
  - colima_services.devenv maintainers
description:
  - Hashes the relative paths and contents of every file below the given directories, in order,
    and returns the first 12 hex digits of the SHA-256. A local image tagged with it is rebuilt
    only when its recipe (or the base recipe it names) changes.
options:
  _terms:
    description: Directories to hash, in order.
    required: true
    type: list
    elements: path
"""

EXAMPLES = r"""
- name: Tag the local Vault image by its recipe
  ansible.builtin.debug:
    msg: "devenv/vault:{{ lookup('colima_services.devenv.recipe_hash', 'images/vault', 'images/base') }}"
"""

RETURN = r"""
_raw:
  description: One 12-digit hex hash of all the directories together.
  type: list
  elements: str
"""

import hashlib
import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase


def recipe_hash(directories):
    digest = hashlib.sha256()
    for directory in directories:
        if not os.path.isdir(directory):
            raise AnsibleLookupError("recipe_hash: %s is not a directory" % directory)
        files = []
        for root, dirs, names in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            files.extend(os.path.join(root, name) for name in names)
        for path in sorted(files):
            rel = os.path.relpath(path, directory).replace(os.sep, "/")
            digest.update(rel.encode("utf-8") + b"\0")
            with open(path, "rb") as handle:
                digest.update(handle.read())
            digest.update(b"\0")
        digest.update(b"\1")
    return digest.hexdigest()[:12]


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        return [recipe_hash(terms)]
