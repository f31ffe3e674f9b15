#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fast_path
short_description: The whole-plan fast path of site.yml - check the record of the last complete run, or write it
version_added: 0.2.0
description:
  - With O(mode=check), compares what is there now with the record the last complete C(site.yml) run left in
    C(<devenv_home>/fast-path.json) - the inputs (the collection's files, the variables, the environment variables
    the roles read), every container's configuration hash, image, state, health and files, the images, the host
    files of the instance, Vault's seal and the Redis Cluster's state, and the time of the next certificate renewal
    or image retry. RV(hit) is true when nothing differs; otherwise the record is removed, and RV(plays) names the
    plays of C(site.yml) that differ when that is known (the roles whose files or variables changed, the plays that
    reconciled a container that differs); only those run. Without RV(plays) every play runs.
  - It costs one container list, one image list, one archive read per configuration directory, one C(CLUSTER INFO)
    and one C(sys/health).
  - On a miss it keeps this run's inputs, and the record when only some plays run, in
    C(<devenv_home>/fast-path.next.json) (0600) for the summary's record; RV(token) names them.
  - With O(mode=record), writes the record (0600, atomically) at the end of a complete run, reading each container's
    files back from the engine. Never in check mode.
  - Any run that takes the instance's run lock removes the record first (M(colima_services.devenv.run_lock)).
author:
  - colima_services.devenv maintainers
extends_documentation_fragment:
  - colima_services.devenv.attributes.action
attributes:
  check_mode:
    support: full
    description: The check reads only; the record is not written in check mode.
  diff_mode:
    support: none
options:
  mode:
    description: C(check) or C(record).
    type: str
    choices: [check, record]
    default: check
  settings:
    description: The devenv settings (C(_devenv_settings)) - C(home), C(docker_host), C(labels), C(label_prefix).
    type: dict
    required: true
  plan:
    description: The resolved registry (record) - which component is the Vault server and which are Redis nodes.
    type: dict
  token:
    description: RV(token) as the check returned it (record).
    type: str
  fingerprints:
    description: What each service step returned as its C(fingerprint), by container (record).
    type: dict
  status:
    description: Each component's status in this run (record).
    type: dict
  vault_url:
    description: Vault's URL (record; kept when the plan has a Vault server).
    type: str
  vault_dir:
    description: The instance's Vault directory, whose files the record lists with those of C(devenv_home) (record).
    type: str
  renew_days:
    description: C(devenv_cert_renew_days), for the time of the next certificate renewal (record).
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: Compare with the record of the last complete run
  colima_services.devenv.fast_path:
    settings: "{{ _devenv_settings }}"
  register: fast
"""

RETURN = r"""
hit:
  description: Nothing differs; the later plays of site.yml end at their first task (check).
  returned: check
  type: bool
why:
  description: The first differences found (check).
  returned: check
  type: list
  elements: str
inputs:
  description: The digest of this run's inputs (check).
  returned: check
  type: str
plays:
  description: The only plays of site.yml that run (check, on a miss when it is known which differ).
  returned: when only some plays differ
  type: list
  elements: str
token:
  description: Names what the check kept of this run's inputs for the summary's record (check, on a miss).
  returned: on a miss, not in check mode
  type: str
status:
  description: Each component's status in the last record, for the summary's table of a run of only some plays.
  returned: with RV(plays)
  type: dict
seconds:
  description: How long the check took.
  returned: check
  type: float
"""
