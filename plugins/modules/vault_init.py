#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vault_init
short_description: Initialise and unseal a Vault or OpenBao server, once, keeping the keys safe
version_added: 0.1.0
description:
  - Waits for the API (C(sys/health) answers 501 while uninitialised and 503 while sealed; both count as up).
  - Initialises the server only when it reports uninitialised, and writes the init output (unseal keys and
    root token) to O(keys_file) and the root token to O(root_token_file), each atomically with mode 0600.
    An existing file is never overwritten.
  - Before it calls C(sys/init) it makes both files ready (directory, mode 0600, space allocated); when either
    cannot be written it fails and Vault stays uninitialised. Should moving a file into place fail after the
    init, the error names the temp file that holds its content.
  - Unseals a sealed server with the keys from O(keys_file), starting with a reset of any unseal progress,
    and detects keys that do not belong to this server.
  - Never re-initialises. When the server is initialised but the keys file is missing, or a keys file exists
    while the server is uninitialised, it fails and says what to do.
  - Never returns a key or a token, not even on failure.
author:
  - colima_services.devenv maintainers
extends_documentation_fragment:
  - colima_services.devenv.vault
attributes:
  check_mode:
    support: full
    description: Reports whether it would initialise or unseal; writes nothing and sends no init or unseal call.
  diff_mode:
    support: none
options:
  key_shares:
    description: Number of unseal key shares created at initialisation.
    type: int
    default: 5
  key_threshold:
    description: Number of shares needed to unseal.
    type: int
    default: 3
  keys_file:
    description:
      - JSON file that receives the init output (C(keys), C(keys_base64), C(root_token)) and from which
        the unseal keys are read.
    type: path
    default: ~/.config/vault/keys.json
  root_token_file:
    description: File that receives the root token alone.
    type: path
    default: ~/.config/vault/root-token
  unseal:
    description: Unseal the server when it is sealed.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Initialise and unseal Vault
  colima_services.devenv.vault_init:
    url: http://127.0.0.1:8200
  register: vault_state

- name: Only report the state (never initialises an uninitialised server in check mode)
  colima_services.devenv.vault_init:
  check_mode: true
"""

RETURN = r"""
initialized:
  description: Whether the server is initialised after the module ran (or would be, in check mode).
  returned: always
  type: bool
sealed:
  description: Whether the server is sealed after the module ran (or would be, in check mode).
  returned: always
  type: bool
actions:
  description: What the module did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [initialize, unseal]
keys_file:
  description: Path of the keys file.
  returned: always
  type: str
keys_missing:
  description: Vault is initialised and unsealed but the keys file is missing (a warning says what to do).
  returned: when Vault was already initialised and unsealed
  type: bool
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.colima_services.devenv.plugins.module_utils._vault import (
    CONNECTION_ARGS,
    VaultApi,
    ReservedFile,
    VaultError,
    connect,
    fail_on_missing_hvac,
    read_text,
)


def load_keys(path):
    """The base64 unseal keys from an init-output file; VaultError with the fix when unusable."""
    text = read_text(path)
    try:
        data = json.loads(text)
        keys = data.get("keys_base64") or data.get("unseal_keys_b64") or data.get("keys")
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise ValueError
    except (TypeError, ValueError):
        raise VaultError(
            "The keys file %s is not Vault init output (a JSON object with a keys_base64 list). "
            "Restore it from your backup." % path
        ) from None
    return keys


def keys_missing_message(url, keys_file):
    return ("VAULT KEYS MISSING: Vault at %s is initialised and unsealed, but its keys file %s is gone. "
            "Restore keys.json from your backup to that path now. Until then the only unseal keys left are "
            "the copy inside the container; if they are lost too, Vault cannot be unsealed after a "
            "restart and its data is lost." % (url, keys_file))


def reserve_files(keys_file, token_file):
    """Both init-output files made ready (directory, mode, free space) before sys/init: once Vault is initialised
    its keys exist only in the answer, so writing them must not be able to fail then."""
    files = []
    try:
        for path in (keys_file, token_file):
            files.append(ReservedFile(path))
    except VaultError as exc:
        for reserved in files:
            reserved.abort()
        raise VaultError("%s Nothing was changed: Vault was not initialised. Make that path writable (its "
                         "directory, permissions and free space), or point vault_keys_file / vault_root_token_file "
                         "elsewhere, then run again." % exc) from exc
    return files


def unseal(api, keys, threshold, keys_file):
    api.call("PUT", "sys/unseal", {"reset": True}, what="resetting the unseal progress")
    status = None
    for key in keys:
        try:
            status = api.call("PUT", "sys/unseal", {"key": key}, what="submitting an unseal key")[1]
        except VaultError:
            status = None
            break
        if not status.get("sealed", True):
            return status
    raise VaultError(
        "The keys in %s do not unseal this Vault (unseal progress fell back to 0 after %s of %s needed keys). "
        "They belong to another Vault, for example one whose data volume was removed and created again. "
        "Restore the keys.json that matches this Vault's data volume." % (keys_file, len(keys), threshold)
        if status is None or status.get("progress", 0) == 0
        else "The keys in %s were not enough to unseal Vault: %s keys given, %s needed."
             % (keys_file, len(keys), threshold)
    )


def run(module):
    params = module.params
    keys_file = os.path.expanduser(params["keys_file"])
    token_file = os.path.expanduser(params["root_token_file"])
    api = VaultApi(connect(params), params["url"])
    api.wait_for_api(params["timeout"])
    status = api.seal_status()
    initialized, sealed = status.get("initialized", False), status.get("sealed", True)
    actions = []

    if not initialized:
        for path in (keys_file, token_file):
            if os.path.exists(path):
                raise VaultError(
                    "Vault at %s is not initialised, but %s exists: it belongs to an earlier Vault, whose data is "
                    "gone (was the vault_data volume removed?). Those keys cannot unseal a new Vault. Move the file "
                    "away (keep it if you may restore the old volume), then run again to initialise a new Vault."
                    % (params["url"], path)
                )
        if params["key_threshold"] > params["key_shares"]:
            raise VaultError("key_threshold (%s) cannot exceed key_shares (%s)."
                             % (params["key_threshold"], params["key_shares"]))
        actions.append("initialize")
        if params["unseal"]:
            actions.append("unseal")
        if module.check_mode:
            return dict(changed=True, initialized=True, sealed=not params["unseal"], actions=actions)
        files = reserve_files(keys_file, token_file)
        try:
            init = api.call("PUT", "sys/init", {"secret_shares": params["key_shares"],
                                                "secret_threshold": params["key_threshold"]},
                            what="initialising")[1]
        except VaultError:
            for reserved in files:
                reserved.abort()
            raise
        secrets = list(init.get("keys", [])) + list(init.get("keys_base64", [])) + [init.get("root_token", "")]
        module.no_log_values.update(s for s in secrets if s)
        output = dict(keys=init.get("keys", []), keys_base64=init.get("keys_base64", []),
                      root_token=init.get("root_token"), unseal_shares=params["key_shares"],
                      unseal_threshold=params["key_threshold"])
        # The keys first: they are what cannot be had again.
        files[0].commit(json.dumps(output, indent=2) + "\n")
        files[1].commit(init["root_token"] + "\n")
        initialized, sealed = True, True
        if params["unseal"]:
            status = unseal(api, output["keys_base64"][:params["key_threshold"]], params["key_threshold"], keys_file)
            sealed = status.get("sealed", True)
            api.wait_active(params["timeout"])
        return dict(changed=True, initialized=initialized, sealed=sealed, actions=actions)

    if not os.path.exists(keys_file) and sealed and params["unseal"]:
        raise VaultError(
            "Vault at %s is initialised and sealed, but the keys file %s is missing, so it cannot be unsealed. "
            "Restore keys.json (and root-token) from your backup to that path and run again. Nothing was changed; "
            "Vault is never initialised again, as that would need its data wiped." % (params["url"], keys_file)
        )
    if not sealed or not params["unseal"]:
        if not sealed and not module.check_mode:
            api.wait_active(params["timeout"])
        keys_missing = not os.path.exists(keys_file)
        if keys_missing:
            module.warn(keys_missing_message(params["url"], keys_file))
        return dict(changed=False, initialized=True, sealed=sealed, actions=actions, keys_missing=keys_missing)

    keys = load_keys(keys_file)
    module.no_log_values.update(keys)
    threshold = status.get("t") or len(keys)
    actions.append("unseal")
    if module.check_mode:
        return dict(changed=True, initialized=True, sealed=False, actions=actions)
    status = unseal(api, keys, threshold, keys_file)
    api.wait_active(params["timeout"])
    return dict(changed=True, initialized=True, sealed=status.get("sealed", True), actions=actions)


def main():
    args = dict(
        key_shares=dict(type="int", default=5),
        key_threshold=dict(type="int", default=3),
        keys_file=dict(type="path", default="~/.config/vault/keys.json", no_log=False),
        root_token_file=dict(type="path", default="~/.config/vault/root-token", no_log=False),
        unseal=dict(type="bool", default=True),
    )
    args.update(CONNECTION_ARGS)
    module = AnsibleModule(argument_spec=args, supports_check_mode=True)
    fail_on_missing_hvac(module)
    try:
        result = run(module)
    except VaultError as exc:
        module.fail_json(msg=str(exc), keys_file=os.path.expanduser(module.params["keys_file"]))
    result["keys_file"] = os.path.expanduser(module.params["keys_file"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
