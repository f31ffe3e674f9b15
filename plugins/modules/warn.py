#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: warn
short_description: Show a message as an Ansible warning
version_added: 0.1.0
description:
  - Prints O(msg) as a C([WARNING]) so that it stands out in the play output and in the recap.
  - Used to report components that are skipped because their image is unavailable.
author:
  - colima_services.devenv maintainers
extends_documentation_fragment:
  - colima_services.devenv.attributes.action
attributes:
  check_mode:
    support: full
    description: Only prints.
  diff_mode:
    support: none
options:
  msg:
    description: The warning.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Warn about a skipped component
  colima_services.devenv.warn:
    msg: "SKIPPED grafana: no image and no local recipe"
"""

RETURN = r"""
msg:
  description: The warning shown.
  returned: always
  type: str
"""
