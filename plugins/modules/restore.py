#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: restore
short_description: Restore a backup made by the backup action into the running environment
version_added: 0.2.0
description:
  - Runs on the controller (action plugin). Before anything changes it reads C(manifest.json), refuses a manifest of
    another major format version (naming the collection version that made it), an artefact path outside the
    directory, a missing artefact, or one whose sha256 differs; and refuses a backup holding components this
    environment does not run. Then, still before anything changes, every precondition of every component's restore
    - its container running, Vault unsealed, a volume artefact's mount path and C(/bin/sh), the tars' layout.
  - Each component's restore completes or leaves the component as it was - C(pg_dump) restores into a new database
    that replaces the live one only when C(pg_restore) succeeded; every other method first makes a rollback copy of
    the component's current state (with the same method, beside the backup) and puts it back when the restore fails.
    Should the rollback fail too, the message names the kept copy. Every command in a container has a deadline.
  - Then Vault first - C(sys/storage/raft/snapshot) (not C(-force), so Vault refuses a snapshot sealed with other
    keys), or its volume when the backup copied it (file storage), waits until it is unsealed - then the others inside
    their own containers.
  - C(pg_dump) - C(pg_restore) into C(<db>__restore) (owned by the live database's owner), then, in one transaction,
    the live database's sessions closed and the restored one renamed to its name; the old one is dropped afterwards.
    Tables created after the backup are gone.
  - C(mysqldump) - the dump replays C(DROP DATABASE) and C(CREATE DATABASE) per database.
  - C(rabbitmq_definitions) - C(rabbitmqctl stop_app), C(reset), C(start_app), C(import_definitions) - queues and
    messages declared after the backup are gone (messages are not in the definitions).
  - C(redis_rdb) - per master, the RDB becomes the base of a new AOF manifest (AOF on, the default; Redis 7 ignores an
    RDB when AOF is on) or the dump file with saving on shutdown turned off (AOF off); the container is restarted and
    waited for until healthy with C(cluster_state:ok). The node keeps its cluster identity (C(nodes.conf)), so restore
    into the cluster the backup came from (same slots per node).
  - C(mongodump) - like C(mongorestore --drop) (used where the image has it, else the same pymongo script as the
    backup) - each collection in the backup is dropped, created with its options, filled and indexed again, so
    documents written after the backup are gone; collections created after the backup stay. Never C(admin) (the users).
  - C(volume_tar) - the container is stopped, its volume at the backup's mount path emptied by a short-lived helper
    container (the same image's C(/bin/sh), as root, no network, labelled like the environment's containers), the tar
    written back through the archive endpoint (owners and modes as they were), the container started and waited for
    until healthy; nothing written after the backup stays. The image needs C(/bin/sh); this is checked first.
  - C(vault_keys) (a copy of C(keys.json)) is never written over the live keys; copy it back by hand if the keys are
    lost.
author:
  - colima_services.devenv maintainers
extends_documentation_fragment:
  - colima_services.devenv.attributes.action
  - colima_services.devenv.attributes.backup
attributes:
  check_mode:
    support: full
    description: Verifies the manifest and the checksums, reports what would be restored, changes nothing.
  diff_mode:
    support: none
options:
  backup:
    description: The backup directory (holding C(manifest.json)).
    type: path
    required: true
  components:
    description: Restore only these components. Empty means every artefact of the backup.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Restore a backup
  colima_services.devenv.restore:
    plan: "{{ _devenv_plan }}"
    settings: "{{ _devenv_settings }}"
    vault_url: "{{ _devenv_vault_url }}"
    vault_dir: "{{ devenv_vault_dir }}"
    backup: /home/me/.local/share/colima-services/default/backups/20250101T120000Z
"""

RETURN = r"""
dir:
  description: The backup directory.
  returned: when the manifest passed its checks
  type: str
planned:
  description: The artefacts restored (or, in check mode, to restore), in order.
  returned: when the manifest passed its checks
  type: list
  elements: str
"""
