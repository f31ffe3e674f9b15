# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Vault / OpenBao plumbing shared by this collection's vault_* modules.

Private to this collection. hvac is the transport; every call goes through
VaultApi.call(), which returns (status, body) and raises VaultError with a
message that names the operation and never carries a request body, so no key,
token or password can leak into a module result or traceback.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import re
import tempfile
import time

from ansible_collections.colima_services.devenv.plugins.module_utils import _files

try:
    import hvac  # noqa: F401  (imported for HAS_HVAC; the client is built in connect())
    import requests

    HAS_HVAC = True
    HVAC_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the controller
    HAS_HVAC = False
    HVAC_IMPORT_ERROR = exc

CONNECTION_ARGS = dict(
    url=dict(type="str", default="http://127.0.0.1:8200"),
    ca_cert=dict(type="path"),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="int", default=30),
)

TOKEN_ARGS = dict(
    token=dict(type="str", no_log=True),
    token_file=dict(type="path", default="~/.config/vault/root-token"),
)


class VaultError(Exception):
    """A failure with a message fit for fail_json: what failed and what to do.

    status: the HTTP status Vault answered with, or None when it was not reached (or the failure is not Vault's).
    """

    def __init__(self, msg, status=None):
        super(VaultError, self).__init__(msg)
        self.status = status


def connect(params, token=None):
    """An hvac client for the module's connection options."""
    import hvac as _hvac

    verify = params.get("ca_cert") or params.get("validate_certs", True)
    return _hvac.Client(url=params["url"], token=token, verify=verify, timeout=params.get("timeout") or 30)


def error_text(error):
    """One of Vault's error strings without the "1 error occurred:" wrapping of its multi-errors."""
    lines = [line.strip().lstrip("*").strip() for line in str(error).splitlines()]
    return "; ".join(line for line in lines if line and not re.match(r"^\d+ errors? occurred:$", line))


def read_token(params):
    """The token from `token`, else from `token_file`; VaultError when neither gives one."""
    if params.get("token"):
        return params["token"]
    path = os.path.expanduser(params.get("token_file") or "")
    if not path or not os.path.exists(path):
        raise VaultError(
            "No Vault token: set token, or token_file to a file holding one (default ~/.config/vault/root-token, "
            "written by colima_services.devenv.vault_init). File not found: %s" % path
        )
    with open(path) as handle:
        token = handle.read().strip()
    if not token:
        raise VaultError("The token file %s is empty." % path)
    return token


def duration_seconds(value):
    """'8760h', '1h30m', '90s', '3600' or 3600 -> 3600-style seconds (int)."""
    if value is None or value == "":
        return 0
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)([dhms])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise VaultError("Cannot read the duration %r: use forms like 8760h, 30m, 90s or seconds." % value)
    return sum(int(n) * units[u] for n, u in parts)


def atomic_write(path, content, mode=0o600, overwrite=True):
    """_files.atomic_write (the one implementation), its FileError raised as VaultError for the modules."""
    try:
        _files.atomic_write(path, content, mode=mode, overwrite=overwrite)
    except _files.FileError as exc:
        raise VaultError(str(exc)) from None


class ReservedFile(object):
    """A secret file made ready before its content exists, so that writing it later cannot fail.

    The directory is created (0700), the path checked to be free, a temp file created next to it with its mode
    and `size` bytes of space allocated. commit() writes the content into that temp file and links it to the
    path (never over an existing file). Raises VaultError naming the path when any of it cannot be done.
    """

    def __init__(self, path, size=65536, mode=0o600):
        self.path = os.path.expanduser(path)
        self.tmp, self.fd = None, None
        directory = os.path.dirname(self.path) or "."
        try:
            if os.path.lexists(directory) and not os.path.isdir(directory):
                raise VaultError("Cannot write %s: %s is not a directory." % (self.path, directory))
            if not os.path.isdir(directory):
                os.makedirs(directory, mode=0o700)
            if os.path.lexists(self.path):
                raise VaultError("Refusing to overwrite %s." % self.path)
            self.fd, self.tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(self.path))
            os.fchmod(self.fd, mode)
            self._allocate(size)
            os.fsync(self.fd)
        except (OSError, IOError) as exc:
            self.abort()
            raise VaultError("Cannot write %s: %s." % (self.path, exc.strerror or exc)) from exc

    def _allocate(self, size):
        """Hold the space: posix_fallocate where the platform and file system have it, else write it out."""
        try:
            os.posix_fallocate(self.fd, 0, size)
            return
        except AttributeError:  # pragma: no cover - macOS has no posix_fallocate
            pass
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
        view = memoryview(b"\0" * size)
        while view:
            view = view[os.write(self.fd, view):]

    def commit(self, content):
        """Write content and link the file into place. On failure the temp file (with the content) is kept
        and named in the error, so that nothing written is lost."""
        data = content.encode("utf-8") if not isinstance(content, bytes) else content
        try:
            os.lseek(self.fd, 0, os.SEEK_SET)
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view):]
            os.ftruncate(self.fd, len(data))
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = None
            os.link(self.tmp, self.path)
            os.unlink(self.tmp)
            self.tmp = None
            dir_fd = os.open(os.path.dirname(self.path) or ".", os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except (OSError, IOError) as exc:
            raise VaultError("Cannot move %s into place as %s (%s). It holds the content: rename it to %s now."
                             % (self.tmp, self.path, exc.strerror or exc, self.path)) from exc

    def abort(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.tmp and os.path.exists(self.tmp):
            os.unlink(self.tmp)
        self.tmp = None


def read_text(path):
    path = os.path.expanduser(path)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return handle.read()


class VaultApi(object):
    """Thin, secret-safe access to the HTTP API through an hvac client."""

    def __init__(self, client, url):
        self.client = client
        self.url = url

    def call(self, method, path, data=None, missing_ok=False, what=None):
        """(status, body) of one API call. Raises VaultError on any error status.

        missing_ok: a 404 returns (404, None) instead of raising (absent mounts, roles, secrets).
        what: a short description of the operation for the error message.
        """
        what = what or "%s %s" % (method, path)
        try:
            response = self.client.adapter.request(
                method, "/v1/" + path.lstrip("/"), json=data, raise_exception=False
            )
        except requests.exceptions.SSLError:
            raise VaultError(
                "TLS verification failed talking to %s (%s). Set ca_cert to the CA that signed Vault's "
                "certificate." % (self.url, what)
            ) from None
        except requests.exceptions.RequestException as exc:
            raise VaultError("Cannot reach Vault at %s (%s): %s" % (self.url, what, type(exc).__name__)) from None
        if isinstance(response, dict):
            return 200, response
        status = response.status_code
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if status == 404 and missing_ok:
            return status, None
        if status >= 400:
            errors = (body or {}).get("errors") if isinstance(body, dict) else None
            detail = "; ".join(error_text(e) for e in errors) if errors else "HTTP %s" % status
            if status == 403:
                detail += " (the token lacks permission, or has expired)"
            raise VaultError("Vault refused %s: %s" % (what, detail), status=status)
        return status, body

    def seal_status(self):
        return self.call("GET", "sys/seal-status", what="reading the seal status")[1]

    def health(self):
        """(status, body) of sys/health as Vault answers it: 200 active, 429 standby, 472/473 DR/performance
        standby, 501 not initialised, 503 sealed. The one place this collection reads sys/health."""
        response = self.client.adapter.request("GET", "/v1/sys/health", raise_exception=False)
        if isinstance(response, dict):
            return 200, response
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        return response.status_code, body

    def wait_for_api(self, timeout):
        """Wait until the API answers, whatever the init/seal state; return sys/health's body.

        sys/health answers 501 while uninitialised and 503 while sealed: those count as up.
        """
        deadline = time.time() + timeout
        last = "no answer"
        while True:
            try:
                status, body = self.health()
                if status in (200, 429, 472, 473, 501, 503) and body is not None:
                    return body
                last = "HTTP %s" % status
            except requests.exceptions.SSLError:
                raise VaultError("TLS verification failed talking to %s. Set ca_cert to the CA that signed "
                                 "Vault's certificate, or use http:// for a listener without TLS." % self.url) from None
            except requests.exceptions.RequestException as exc:
                last = type(exc).__name__
            if time.time() >= deadline:
                raise VaultError(
                    "Vault at %s did not answer within %s s (last: %s). Is the container running and the port "
                    "published? Check `docker logs dev-vault`." % (self.url, timeout, last)
                )
            time.sleep(0.5)

    def wait_active(self, timeout):
        """After an unseal, wait until the node is active (sys/health 200): with integrated (raft)
        storage, writes fail with "local node not active" for a few seconds after the unseal."""
        deadline = time.time() + timeout
        while True:
            status = self.health()[0]
            if status == 200:
                return
            if time.time() >= deadline:
                raise VaultError("Vault at %s is unsealed but did not become active within %s s (sys/health: "
                                 "HTTP %s). Check `docker logs dev-vault`." % (self.url, timeout, status))
            time.sleep(0.25)

    def mounts(self):
        body = self.call("GET", "sys/mounts", what="listing secret engines")[1]
        data = body.get("data", body)
        return dict((k.rstrip("/"), v) for k, v in data.items() if isinstance(v, dict) and "type" in v)

    def listing(self, path, what=None):
        """Keys of a LIST, or [] when there is nothing (404)."""
        status, body = self.call("LIST", path, missing_ok=True, what=what)
        if status == 404 or not body:
            return []
        return list((body.get("data") or {}).get("keys") or [])


class Planner(object):
    """Base of the token-based modules' workers: records each action, and performs it unless in
    check mode, so that check mode returns exactly the list of actions a real run would take."""

    def __init__(self, module, api):
        self.module = module
        self.params = module.params
        self.api = api
        self.check = module.check_mode
        self.actions = []

    def act(self, description, method, path, data=None, what=None):
        """Record an action; perform it unless in check mode. Returns the response body."""
        self.actions.append(description)
        if self.check:
            return {}
        return self.api.call(method, path, data, what=what or description)[1] or {}


def run_token_module(argument_spec, runner, durations=None):
    """main() of a module that acts with a token: parse args, check durations, log in, run, exit.

    runner(module, api) returns the result dict; durations(params) lists duration strings to
    validate before any call. Every VaultError becomes fail_json with its message.
    """
    from ansible.module_utils.basic import AnsibleModule

    args = dict(argument_spec)
    args.update(CONNECTION_ARGS)
    args.update(TOKEN_ARGS)
    module = AnsibleModule(argument_spec=args, supports_check_mode=True)
    fail_on_missing_hvac(module)
    try:
        for value in (durations(module.params) if durations else []):
            duration_seconds(value)
        token = read_token(module.params)
        module.no_log_values.add(token)
        result = runner(module, VaultApi(connect(module.params, token), module.params["url"]))
    except VaultError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


def fail_on_missing_hvac(module):
    if not HAS_HVAC:
        from ansible.module_utils.basic import missing_required_lib

        module.fail_json(msg=missing_required_lib("hvac"), exception=str(HVAC_IMPORT_ERROR))


def to_json(value):
    return json.dumps(value, indent=2, sort_keys=True) + "\n"
