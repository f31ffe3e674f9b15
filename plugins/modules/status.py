#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: status
short_description: Report every enabled component of the environment, and fail when one is not healthy
version_added: 0.2.0
description:
  - Reads the environment once through the Docker API, in-process on the controller (action plugin) - one listing of
    the containers carrying the instance label, one inspect per container and per distinct image - and prints one
    table - component, container state, health, uptime, version, URLs (host ports, and C(https://<name>.localhost)
    where an enabled edge routes the component), and a detail column.
  - Vault's detail is C(sealed) or C(unsealed) (its C(/v1/sys/health)). A Redis node's detail is its
    C(cluster_state) from C(CLUSTER INFO), run through C(docker exec) with the password read from the node's own
    config file inside the container (it never leaves the container).
  - The version is the image's C(org.opencontainers.image.version) label, else a C(*_VERSION) variable of the image,
    else its tag; Vault and Redis report the version of the running server.
  - While Docker still says C(starting) (it runs its first check one interval after a start), the container's own
    healthcheck is run once through C(docker exec); the component counts as healthy when it passes.
  - Fails, naming each one and why, when an enabled component is not healthy - no container, not running, unhealthy,
    Vault sealed, Redis C(cluster_state) not C(ok). Components in O(create_only) are healthy when their container
    exists.
  - Changes nothing; C(changed) is always false.
author:
  - colima_services.devenv maintainers
extends_documentation_fragment:
  - colima_services.devenv.attributes.action
attributes:
  check_mode:
    support: full
    description: Only reads; the same report in check mode.
  diff_mode:
    support: none
options:
  plan:
    description: The resolved registry (C(_devenv_plan) of the devenv role's C(init) entry point).
    type: dict
    required: true
  settings:
    description:
      - The devenv settings (C(_devenv_settings)) - C(docker_host), C(api_version), C(container_prefix),
        C(label_prefix), C(labels) (the instance label selects the containers) and C(bind_address).
    type: dict
    required: true
  vault_url:
    description: Vault's API on the host, for its seal status.
    type: str
  ca_file:
    description:
      - The exported root CA, to verify the edge's certificate when a route is checked. Without it (not exported
        yet), a route is checked for its answer only.
      - Every published TCP port gets a connect and every routed web UI an HTTPS request through the edge, side by
        side; a port that refuses, or a route the edge answers with 502, 503 or 504 (or not at all), makes the
        component unhealthy with that reason.
    type: path
  create_only:
    description: Components that are created but never started (C(devenv_create_only)).
    type: list
    elements: str
    default: []
  format:
    description: C(table) prints the aligned table, C(json) one JSON document on one line (for scripts).
    type: str
    choices: [table, json]
    default: table
"""

EXAMPLES = r"""
- name: Report the environment
  colima_services.devenv.status:
    plan: "{{ _devenv_plan }}"
    settings: "{{ _devenv_settings }}"
    vault_url: "{{ _devenv_vault_url }}"
    format: table
"""

RETURN = r"""
components:
  description: One entry per enabled component.
  returned: when every component is healthy (otherwise the table is printed and RV(unhealthy) names them)
  type: list
  elements: dict
  contains:
    component: {description: Registry name., type: str}
    container: {description: Container name, or null when there is none., type: str}
    state: {description: Docker's state (running, exited, created...) or C(missing)., type: str}
    health: {description: Docker's health status, C(none) without a healthcheck., type: str}
    uptime: {description: Time since the container started (C(2h05m)), C(-) when not running., type: str}
    version: {description: Version of the image or of the running server., type: str}
    urls: {description: Published ports and the edge URL., type: list, elements: str}
    detail: {description: C(sealed)/C(unsealed) for Vault, C(cluster_state:ok) for a Redis node., type: str}
    ok: {description: Whether the component is healthy., type: bool}
    problem: {description: Why it is not healthy, or null., type: str}
disabled:
  description: Components the profile or the overrides disable.
  returned: when every component is healthy
  type: list
  elements: str
healthy:
  description: Whether every enabled component is healthy.
  returned: always
  type: bool
table:
  description: The printed table, line by line.
  returned: when every component is healthy
  type: list
  elements: str
unhealthy:
  description: The components that are not healthy.
  returned: when not every component is healthy
  type: list
  elements: str
"""
