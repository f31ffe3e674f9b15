#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: preflight
short_description: Check the development environment's address plan before anything changes
version_added: 0.1.0
description:
  - Validates the plan of components (IPs, published ports, memory) against itself and against
    what the Docker engine already runs, and fails with every problem found, each naming the
    variable at fault and the fix.
  - A host port is busy when a program B(listens) on it (Linux reads C(/proc/net/tcp) and C(tcp6), and
    names the holding process where it may see it; other systems ask C(lsof), else try to connect). A port
    that an outgoing connection holds as its source port is not busy. Wildcard listeners (C(0.0.0.0), C(::))
    take the port from every address, and loopback listeners from each other across IPv4 and IPv6.
  - Checks the plan's own data that the registry lets through, namely component names (one DNS label, also a
    container name), memory estimates (a whole number of MiB), C(depends_on) (no cycle, no dependency on a
    disabled component), C(read_secrets) (names, no patterns), edge hosts (each claimed once), secrets given in
    the inventory (not empty) and per-port C(bind_address) values (an IP address; busy ports are probed there).
  - Warns (does not fail) for a host port inside the machine's ephemeral port range, where an outgoing
    connection can hold it at the moment Docker publishes it.
  - Never changes anything. The Docker state is passed in (from M(community.docker.docker_host_info)),
    so the module itself needs no Docker client.
author:
  - colima_services.devenv maintainers
attributes:
  check_mode:
    support: full
    description: The module only reads; it behaves the same in check mode.
  diff_mode:
    support: none
options:
  components:
    description:
      - The address plan, a dict of component name to C(enabled), C(ip), C(ports) and C(memory_mb).
      - C(ports) is a dict of port name to C(host) (published port, or null) and C(container).
    type: dict
    required: true
  check:
    description:
      - Components whose container name, IP and host ports are checked against the engine.
      - Defaults to every enabled component. The plan's own consistency is always checked in full.
    type: list
    elements: str
  network_name:
    description: Name of the bridge network.
    type: str
    required: true
  subnet:
    description: Subnet of the bridge network, in CIDR form.
    type: str
    required: true
  gateway:
    description: Gateway of the bridge network.
    type: str
    required: true
  bind_address:
    description: Host address ports are published on.
    type: str
    default: 127.0.0.1
  container_prefix:
    description: Prefix of container names.
    type: str
    default: dev-
  label_prefix:
    description: Prefix of the ownership labels.
    type: str
    default: io.colima-services
  instance:
    description: Value of the instance ownership label.
    type: str
    default: default
  mem_total:
    description: Memory of the Docker engine in bytes (C(host_info.MemTotal)).
    type: int
  memory_headroom_mb:
    description: Memory to keep free beyond the components' estimates.
    type: int
    default: 512
  networks:
    description: The engine's networks, as returned by M(community.docker.docker_host_info) with
      O(community.docker.docker_host_info#module:verbose_output=true).
    type: list
    elements: dict
    default: []
  containers:
    description: The engine's containers (all, verbose), as returned by M(community.docker.docker_host_info).
    type: list
    elements: dict
    default: []
  ip_range:
    description:
      - Docker's dynamic range on the network (C(devenv_network_ip_range), resolved; empty for none). It must lie
        inside O(subnet), and no component's IP inside it. Our network without a range gives a warning.
    type: str
    default: ""
  vault_dir:
    description:
      - Vault's host-side directory (C(devenv_vault_dir)), when the plan runs Vault. Refused when its marker file
        (C(.colima-services-instance)) names another instance.
    type: path
  vault_dir_is_default:
    description:
      - Whether O(vault_dir) is the per-instance default; then, for an instance other than C(default) whose directory
        does not exist yet, a warning points at C(~/.config/vault), the directory all instances shared before.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Read the engine state
  community.docker.docker_host_info:
    networks: true
    containers: true
    containers_all: true
    verbose_output: true
  register: engine

- name: Check the plan before changing anything
  colima_services.devenv.preflight:
    components: "{{ devenv_components }}"
    network_name: dev-services
    subnet: 172.20.0.0/16
    gateway: 172.20.0.1
    mem_total: "{{ engine.host_info.MemTotal }}"
    networks: "{{ engine.networks }}"
    containers: "{{ engine.containers }}"
"""

RETURN = r"""
problems:
  description: Every problem found; empty when the plan is sound.
  returned: always
  type: list
  elements: str
checked:
  description: Components checked against the engine.
  returned: always
  type: list
  elements: str
memory_mb:
  description: Sum of the memory estimates of the enabled components.
  returned: always
  type: int
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.colima_services.devenv.plugins.module_utils import _preflight as pf


def run(params):
    problems = []
    components = params["components"] or {}
    enabled = pf.enabled_components(components)
    check = params["check"] if params["check"] is not None else list(enabled)
    unknown = [name for name in check if name not in components]
    if unknown:
        problems.append("Unknown component(s) %s: not in the plan (devenv_components)." % ", ".join(sorted(unknown)))

    net_problems, network = pf.check_network_settings(params["subnet"], params["gateway"])
    problems += net_problems
    problems += pf.check_plan(components, network, params["gateway"])
    problems += pf.check_input(components)
    problems += pf.check_dynamic_range(components, network, params["ip_range"])
    problems += pf.check_networks(params["networks"], params["network_name"], network,
                                  params["label_prefix"], params["instance"])
    problems += pf.check_containers(params["containers"], components, check, params["network_name"],
                                    params["container_prefix"], params["label_prefix"], params["instance"])
    problems += pf.check_ports(params["containers"], components, check, params["bind_address"],
                               params["container_prefix"], params["label_prefix"], params["instance"])
    if params["vault_dir"]:
        problems += pf.vault_dir_problems(params["vault_dir"], params["instance"], pf.read_marker(params["vault_dir"]))
    mem_problems, need = pf.check_memory(components, params["mem_total"], params["memory_headroom_mb"])
    problems += mem_problems
    warnings = pf.ephemeral_warnings(components, check, pf.ephemeral_range())
    warnings += pf.network_range_warnings(params["networks"], params["network_name"], params["label_prefix"],
                                          params["instance"])
    if params["vault_dir"] and params["vault_dir_is_default"]:
        warnings += pf.legacy_vault_warnings(params["vault_dir"], params["instance"], os.path.expanduser("~"))
    return problems, sorted(check), need, warnings


def main():
    module = AnsibleModule(
        argument_spec=dict(
            components=dict(type="dict", required=True),
            check=dict(type="list", elements="str"),
            network_name=dict(type="str", required=True),
            subnet=dict(type="str", required=True),
            gateway=dict(type="str", required=True),
            bind_address=dict(type="str", default="127.0.0.1"),
            container_prefix=dict(type="str", default="dev-"),
            label_prefix=dict(type="str", default="io.colima-services"),
            instance=dict(type="str", default="default"),
            mem_total=dict(type="int"),
            memory_headroom_mb=dict(type="int", default=512),
            networks=dict(type="list", elements="dict", default=[]),
            containers=dict(type="list", elements="dict", default=[]),
            ip_range=dict(type="str", default=""),
            vault_dir=dict(type="path"),
            vault_dir_is_default=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    problems, checked, need, warnings = run(module.params)
    for warning in warnings:
        module.warn(warning)
    result = dict(changed=False, problems=problems, checked=checked, memory_mb=need)
    if problems:
        module.fail_json(
            msg="Preflight found %d problem(s); nothing was changed:\n- %s" % (len(problems), "\n- ".join(problems)),
            **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
