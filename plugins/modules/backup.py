#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: backup
short_description: Back up every enabled component by its registry backup method, with a manifest
version_added: 0.2.0
description:
  - Runs on the controller (action plugin) and writes C(<dest>/<UTC timestamp>/) (0700; C(-2), C(-3)... appended
    when a backup of the same second exists) with one artefact per component (0600, written under a temporary name
    and renamed), then C(manifest.json) - per artefact the component, method, file, size, sha256 and versions
    (image, and Vault's server version), the manifest format C(1.0), the collection version and the instance.
  - The backup is written as C(<dest>/.<name>.part) and renamed to C(<dest>/<name>) only when complete; a backup
    that fails part way leaves nothing behind. A container stopped for a copy is always started again.
  - C(raft_snapshot) - Vault's C(sys/storage/raft/snapshot) through its API with the root token read from
    O(vault_dir) (the OpenBao flavor uses raft storage). When C(sys/storage/raft/configuration) answers that raft
    storage is not in use (the HashiCorp Vault flavor, file storage), Vault's volume is copied instead, as by
    C(volume_tar) (manifest method C(volume_tar), C(storage=file)); any other answer fails the backup.
  - C(pg_dump) - C(pg_dump -Fc) (streamed out of the container, nothing staged in it) of every database but C(postgres)
    and the templates, over the container's local socket (trust inside the container); one artefact per database.
  - C(mysqldump) - C(mariadb-dump) (else C(mysqldump), streamed out of the container)
    C(--single-transaction --routines --events --triggers --add-drop-database) of every database but the server's own,
    reading root's password from the container's 0600 option file (C(--defaults-extra-file)).
  - C(redis_rdb) - per master node, C(BGSAVE) (retried while an AOF rewrite runs), waits for it, checks
    C(rdb_last_bgsave_status:ok), copies the RDB; replicas are skipped (one RDB per master). The password is read from
    the node's config file inside the container into the environment of that shell only.
  - C(rabbitmq_definitions) - C(rabbitmqctl export_definitions) (users with password hashes, vhosts, permissions,
    queues, exchanges, bindings, policies; not the messages).
  - C(mongodump) - every database but C(admin), C(config) and C(local) (users live in C(admin) and are managed by the
    mongodb role) in mongodump's directory layout (C(<db>/<collection>.bson) and C(.metadata.json) with the indexes), as
    one tar - made by C(mongodump) (C(--config) with a 0600 YAML file holding the password) where the image has it
    (upstream), else by a pymongo script uploaded into the container (the local recipe). The manifest names the tool.
  - C(volume_tar) - one tar per named volume the container mounts (from its inspect), read through Docker's archive
    endpoint while the container is stopped (a consistent copy); then it is started again and waited for until healthy.
  - An unknown method fails the backup naming the component.
  - Dumps are written inside the container to a private directory (C(/tmp/devenv-backup), 0700), read back through
    Docker's archive endpoint and removed. No password is on a command line, in the result or in the output.
author:
  - colima_services.devenv maintainers
extends_documentation_fragment:
  - colima_services.devenv.attributes.action
  - colima_services.devenv.attributes.backup
attributes:
  check_mode:
    support: full
    description: Reports what would be backed up, writes nothing.
  diff_mode:
    support: none
options:
  dest:
    description: Where the timestamped backup directory is created (C(devenv_backup_dir)).
    type: path
    required: true
  vault_keys:
    description:
      - Also copy C(keys.json) into the backup as C(vault/keys.json). The snapshot can only be opened with the
        keys it was sealed with; with this copy the backup is as secret as the keys (it holds the root token).
    type: bool
    default: false
  components:
    description: Back up only these components. Empty means every enabled component with a backup method.
    type: list
    elements: str
    default: []
  keep:
    description:
      - Keep only this many complete backups in O(dest) (the newest; the one just written always among them) and
        remove the older ones. V(0) keeps every backup.
    type: int
    default: 0
"""

EXAMPLES = r"""
- name: Back up the environment
  colima_services.devenv.backup:
    plan: "{{ _devenv_plan }}"
    settings: "{{ _devenv_settings }}"
    vault_url: "{{ _devenv_vault_url }}"
    vault_dir: "{{ devenv_vault_dir }}"
    dest: "{{ devenv_backup_dir }}"
"""

RETURN = r"""
dir:
  description: The backup directory.
  returned: success
  type: str
pruned:
  description: The older backups removed because of O(keep).
  returned: success
  type: list
  elements: str
planned:
  description: C(component - method) for every component to back up.
  returned: always
  type: list
  elements: str
artefacts:
  description: What was written (component, method, file, size, sha256).
  returned: success, not in check mode
  type: list
  elements: dict
"""
