# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Docker API helpers of the actions (service, status, backup, restore), over community.docker's APIClient.

Private to this collection (leading underscore): no compatibility promise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import tarfile
import time

try:
    from ansible_collections.community.docker.plugins.module_utils._api.api.client import APIClient
    from ansible_collections.community.docker.plugins.module_utils._api.errors import DockerException, NotFound
    HAS_DOCKER = True
except ImportError:  # each action says so when it runs
    HAS_DOCKER = False

    class DockerException(Exception):
        pass

    class NotFound(DockerException):
        pass


class ConnectError(Exception):
    pass


def connect(settings, timeout):
    """community.docker's APIClient for the settings' engine (docker_host, api_version)."""
    try:
        return APIClient(base_url=settings["docker_host"], version=settings.get("api_version") or "auto", timeout=timeout)
    except DockerException as exc:
        raise ConnectError("The Docker engine at %s does not answer: %s" % (settings.get("docker_host"), exc))


class ExecError(Exception):
    def __init__(self, msg, code=None, output=""):
        super(ExecError, self).__init__(msg)
        self.code, self.output = code, output


def exec_run(client, container, argv, user="", env=None, timeout=600):
    """Run argv in the container (docker exec); returns (exit code, stdout bytes, stderr bytes).

    env is the exec's environment: it stays inside the container (never on a command line, never logged here).
    """
    data = {"AttachStdout": True, "AttachStderr": True, "Tty": False, "Cmd": list(argv)}
    if user:
        data["User"] = str(user)
    if env:
        data["Env"] = ["%s=%s" % (k, v) for k, v in sorted(env.items())]
    exec_id = client.post_json_to_json("/containers/{0}/exec", container, data=data)["Id"]
    out, err = client.post_json_to_stream("/exec/{0}/start", exec_id, data={"Detach": False, "Tty": False},
                                          stream=False, tty=False, demux=True)
    deadline = time.time() + timeout
    while True:
        info = client.get_json("/exec/{0}/json", exec_id)
        if not info.get("Running") or time.time() > deadline:
            break
        time.sleep(0.1)
    return info.get("ExitCode"), out or b"", err or b""


def exec_ok(client, container, argv, what, user="", env=None, timeout=600):
    """exec_run that raises ExecError (with the end of stderr) unless the command exits 0; returns stdout."""
    code, out, err = exec_run(client, container, argv, user=user, env=env, timeout=timeout)
    if code != 0:
        tail = (err or out).decode("utf-8", "replace").strip().splitlines()[-5:]
        raise ExecError("%s failed in %s (exit %s): %s" % (what, container, code, " | ".join(tail) or "no output"),
                        code, "\n".join(tail))
    return out


def get_archive(client, container, path, handle):
    """Stream the archive endpoint's tar of path (a file or a directory) into handle; the container may be stopped."""
    response = client._get(client._url("/containers/{0}/archive", container), params={"path": path}, stream=True)
    client._raise_for_status(response)
    for chunk in response.iter_content(chunk_size=1 << 20):
        handle.write(chunk)


def put_archive(client, container, directory, data):
    """Extract a tar (bytes or a file object) into directory in the container; the container may be stopped."""
    client._raise_for_status(client._put(client._url("/containers/{0}/archive", container),
                                         params={"path": directory}, data=data))


def get_file(client, container, path, handle=None):
    """The content of one regular file in the container (GET archive; the container may be stopped).

    With handle, the content is streamed into it and the size returned; otherwise the bytes are returned.
    """
    raw = io.BytesIO()
    get_archive(client, container, path, raw)
    raw.seek(0)
    with tarfile.open(fileobj=raw, mode="r|") as tar:
        for member in tar:
            if not member.isfile():
                continue
            source = tar.extractfile(member)
            if handle is None:
                return source.read()
            size = 0
            while True:
                block = source.read(1 << 20)
                if not block:
                    return size
                handle.write(block)
                size += len(block)
    raise ExecError("%s in %s is not a regular file" % (path, container))


def put_file(client, container, path, content, mode=0o600, uid=0, gid=0):
    """Write one file into the container (PUT archive into its directory), with mode and owner."""
    directory, name = path.rsplit("/", 1)
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.uid, info.gid, info.mtime = len(content), mode, int(uid), int(gid), int(time.time())
        tar.addfile(info, io.BytesIO(content))
    put_archive(client, container, directory or "/", data.getvalue())
