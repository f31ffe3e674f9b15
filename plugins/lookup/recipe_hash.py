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

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.colima_services.devenv.plugins.module_utils import _recipe


def recipe_hash(directories):
    try:
        return _recipe.recipe_hash(directories)
    except _recipe.RecipeError as exc:
        raise AnsibleLookupError(str(exc)) from None


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        return [recipe_hash(terms)]
