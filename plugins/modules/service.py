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
  - Otherwise it runs only what is needed, through the community.docker modules - C(docker_image_pull) or
    C(docker_image) (local recipe build), C(docker_volume), C(docker_container) (created or recreated when the spec or
    image changed), C(docker_container_copy_into) for each file that differs, and a restart when only files changed -
    then waits until the container is healthy. On timeout it fails with the health output and the last log lines.
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
    description: The service spec (see the C(service) entry point of the C(devenv) role for its fields).
    type: dict
    required: true
  entry:
    description: The component's resolved registry entry (C(ip), C(ports), C(memory_limit_mb), C(cpus)).
    type: dict
    required: true
  settings:
    description:
      - Shared settings, as the C(init) entry point resolves them in C(_devenv_settings) - C(docker_host),
        C(container_prefix), C(volume_prefix), C(network_name), C(bind_address), C(labels), C(label_prefix), C(home),
        C(image_source), C(image_retry), C(image_retry_hours), C(local_image_prefix), C(collection_root), C(base_tag),
        C(debian_mirror), C(system), C(health_timeout), C(log_lines), C(require_all), C(create_only), C(tls_dir).
    type: dict
    required: true
  template_dir:
    description: Directory of the calling role's templates, for file entries with a relative C(template).
    type: path
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
    settings: "{{ _devenv_settings | combine({'create_only': false, 'tls_dir': devenv_home ~ '/services/probe'}) }}"
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
modules:
  description: The modules that ran (empty on the fast path).
  returned: always
  type: list
  elements: str
"""
