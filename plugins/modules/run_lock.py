#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: run_lock
short_description: Hold an instance's run lock for the whole ansible-playbook run
version_added: 0.1.0
description:
  - Takes an exclusive lock (C(flock)) on O(path) for the ansible-playbook process that runs the task, and
    keeps it until that process ends, however it ends (also on Ctrl-C or kill); every entry point that
    changes an instance (converge, backup, restore, reset) takes it first, so two runs never interleave.
  - The lock is held by a small holder process in a session of its own that watches the ansible-playbook
    process (a task's own descriptor would close with its worker). It writes the holder's details into
    O(path) (mode 0600).
  - A run that finds the lock taken waits up to O(wait) seconds, then fails, changing nothing, naming the
    ansible-playbook PID that holds it. A task in the same run (or in a playbook started from inside the
    locked run) finds the lock its own and goes on.
author:
  - colima_services.devenv maintainers
extends_documentation_fragment:
  - colima_services.devenv.attributes.action
attributes:
  check_mode:
    support: full
    description: Takes the lock in check mode too (it changes nothing of the environment).
  diff_mode:
    support: none
options:
  path:
    description: The lock file, normally C(<devenv_home>/run.lock). Its directory is created (0700) when missing.
    type: path
    required: true
  wait:
    description: Seconds to wait for another run's lock before failing (C(devenv_run_lock_wait)).
    type: float
    default: 10
  instance:
    description: The instance name, for the messages.
    type: str
    default: default
"""

EXAMPLES = r"""
- name: Take this instance's run lock
  colima_services.devenv.run_lock:
    path: "{{ devenv_home }}/run.lock"
    wait: 10
    instance: "{{ devenv_instance }}"
"""

RETURN = r"""
pid:
  description: The ansible-playbook process the lock is held for.
  returned: always
  type: int
holder:
  description: What the lock file says (C(pid), C(holder), C(since)).
  returned: always
  type: dict
"""
