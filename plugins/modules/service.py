#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: service
short_description: Reconcile one service container, doing nothing when nothing differs
version_added: 0.2.0
description:
  - One step per service container, run on the controller (action plugin). It reads the state through the Docker
    API in-process - the image, the container with its C(<label_prefix>.config-hash) label, and every config file
    inside the container (content, mode, owner).
  - When the container carries the same config hash (container options and image ID), every file is as wanted and the
    container is running and healthy, it returns C(changed=false) without starting any module.
  - Otherwise it does only what is needed - C(docker_image_pull) or C(docker_image) (local recipe build),
    C(docker_volume) and C(docker_container) (created or recreated when the spec or image changed) as modules; the files
    that differ written through the Docker API's archive endpoint (the Docker SDK for Python, in the controller) and
    a start or restart (only files changed, same container) as single API calls in-process - then waits until the
    container is healthy, running the container's own healthcheck every second meanwhile. On timeout it fails with the
    health output and the last log lines.
  - With O(wait=false) a started container is not waited for; the result carries RV(pending), and a later call with
    O(wait_for) waits for such containers (the C(devenv) role's handler does, at the end of the play).
  - An upstream image that could not be pulled is remembered (C(<home>/images/unavailable.json)) and not pulled again
    for O(settings.image_retry_hours), unless O(settings.image_retry).
  - Used by the C(service) entry point of the internal C(devenv) role, which fills every option.
author:
  - colima_services.devenv maintainers
attributes:
  check_mode:
    support: full
    description: Reports what would be created, recreated, copied or started.
  diff_mode:
    support: full
    description: Names the container spec fields and the files that differ (never their content).
  action:
    support: full
    description: Runs on the controller; modules run only when something differs.
options:
  spec:
    description:
      - The service spec. The action checks it and fails naming an unknown field.
    type: dict
    required: true
    suboptions:
      component:
        type: str
        required: true
        description: Component name; the key in the plan and the container name suffix.
      image:
        type: str
        required: true
        description: Upstream image reference, pinned.
      recipe:
        type: str
        description: Local recipe, if there is one; a directory under the collection's C(images/), or an absolute path.
      hostname:
        type: str
        description: Hostname inside the container. Default the component name.
      aliases:
        type: list
        elements: str
        default: []
        description: Extra DNS names on the network.
      command:
        type: raw
        description: Command (list or string).
      entrypoint:
        type: list
        elements: str
        description: Entrypoint override.
      user:
        type: str
        description: User to run as.
      env:
        type: dict
        description: Environment. Never put secrets here; use files.
      capabilities:
        type: list
        elements: str
        description: Added capabilities.
      init:
        type: bool
        default: false
        description: Run an init process as PID 1.
      volumes:
        type: list
        elements: dict
        default: []
        description: Named volumes, each C(name) and C(target) (and C(read_only)).
      binds:
        type: list
        elements: dict
        default: []
        description: Host bind mounts, each C(source), C(target) and C(read_only) (default true).
      files:
        type: list
        elements: dict
        default: []
        description:
        - Config files rendered from templates and copied into the container (no bind mount, so the owner and mode
          inside the container are exact, on Colima too).
        - Each has C(template) (relative to the calling role's C(templates/), or absolute) or C(src) (a host file copied
          as it is, for example a TLS file from C(vault_access)), C(dest) (absolute path in the container; a directory
          the image lacks is created, root-owned, mode 0755), C(validate) (a command run in the running container
          on the new file, staged next to it, before it replaces the one in use - C([promtool, check, config, "%s"]);
          a failure leaves the file in use unchanged and fails the step with the tool's output), C(mode), C(owner),
          C(group) (numeric) and C(secret) (hide it from the output). Host copies are mode 0600.
      healthcheck:
        type: dict
        description: Docker healthcheck (C(test), C(interval), C(timeout), C(retries), C(start_period)).
      tls:
        type: dict
        description:
        - The service's TLS files from C(vault_access), copied in with the others. C(dest) is a path prefix
          (C(/usr/local/etc/postgres-) gives C(postgres-tls.crt), C(postgres-tls.key), C(postgres-ca.crt)).
        - C(enabled) (default true), C(owner)/C(group) of the key, C(key_mode) (0600), C(cert_mode) (0644), C(ca_mode)
          (0644), C(cert_owned) (the certificate owned like the key), C(ca) (default true), C(combined) (one C(tls.pem)
          with key and chain instead of the certificate and key).
      reload:
        type: str
        default: restart
        description:
        - What happens when only files changed (same container) - C(restart) the container, C(watch) nothing (the
          service watches its files, as Traefik's file provider does), or a signal name sent to the container
          (C(SIGHUP)).
        - A file may set its own C(reload) (Traefik's static config needs C(restart)); the strongest one among the
          changed files wins - C(restart), then a signal, then C(watch).
        - A new or recreated container is started either way.
      ready:
        type: str
        choices:
        - healthy
        - running
        default: healthy
        description:
        - What to wait for before the role goes on. C(running) is for a service that the role itself must bring to
          health after start (Vault can be healthy only once the role has unsealed it).
      server:
        type: dict
        description:
        - The server a data volume belongs to. Once the server is up on the volume, the step records its product and
          release in the file C(.devenv-server) at the volume's root. Before it recreates the container, it compares
          what the volume holds (its record; else what the data's own files say; else the server of the image of
          the container that ran on it) with the server of the image it would start, and fails, changing nothing,
          when the product or the release differs, naming both, O(spec.server.variable) and the way out
          (C(docs/upgrading.md)).
        - C(volume) (one of O(spec.volumes)' names), C(variable) (the variable that sets O(spec.image), named in the
          refusal), C(image) (rules for what an image runs, the first that answers wins - C(env) or C(label) naming
          a value that starts with the release, and C(product)) and C(data) (rules for what the data says - C(file)
          at the volume's root, its C(product), and C(contains), a text the file must hold).
        - The release is the first two numbers of the value (after an epoch such as C(1:)), or the one number there
          is - PostgreSQL 16, MySQL 8.4, MariaDB 10.11, MongoDB 7.0, Redis 7.4.
  entry:
    description: The component's resolved registry entry (C(ip), C(ports), C(memory_limit_mb), C(cpus)).
    type: dict
    required: true
  settings:
    description:
      - Shared settings, as the C(init) entry point resolves them in C(_devenv_settings) - C(docker_host),
        C(container_prefix), C(volume_prefix), C(network_name), C(bind_address), C(labels), C(label_prefix), C(home),
        C(image_source), C(image_retry), C(image_retry_hours), C(local_image_prefix), C(collection_root), C(base_tag),
        C(debian_mirror), C(system), C(health_timeout), C(log_lines), C(require_all), C(create_only), and C(tls_dir)
        (default C(<home>/services/<component>), where C(vault_access) writes the TLS files).
    type: dict
    required: true
  template_dir:
    description: Directory of the calling role's templates, for file entries with a relative C(template).
    type: path
  wait:
    description: Wait until a container this step started is healthy. C(false) returns it in RV(pending) instead.
    type: bool
    default: true
  wait_for:
    description:
      - Wait only, for the containers given (the RV(pending) of earlier calls); O(spec) and O(entry) are not used.
    type: list
    elements: dict
"""

EXAMPLES = r"""
- name: Reconcile a probe service
  colima_services.devenv.service:
    spec:
      component: probe
      image: probe:1
      recipe: /srv/recipes/probe
      files:
        - {template: probe.conf.j2, dest: /etc/probe.conf, mode: "0600", owner: 999, secret: true}
      tls: {dest: /etc/probe-, owner: 999}
      healthcheck: {test: [CMD, /bin/true], interval: 5s}
    entry: "{{ _devenv_plan.probe }}"
    settings: "{{ _devenv_settings | combine({'create_only': false}) }}"
    template_dir: "{{ role_path }}/templates"
"""

RETURN = r"""
status:
  description: C(deployed), C(created) (create-only) or C(unavailable) (no image; a warning says why).
  returned: always
  type: str
container:
  description: The container name.
  returned: always
  type: str
image:
  description: The image reference used.
  returned: when an image was found
  type: str
actions:
  description: What differed and what was done (spec fields, files, pulls, builds).
  returned: always
  type: list
  elements: str
pending:
  description: The container started and not waited for (O(wait=false)) - component, container, ready, healthcheck.
  returned: when a container was started with O(wait=false)
  type: dict
modules:
  description: The modules that ran (empty on the fast path).
  returned: always
  type: list
  elements: str
"""
