# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""The controller's one way to the Docker engine: every in-process Docker call of the actions
(service, status, backup, restore) goes through Engine, over the Docker SDK for Python (docker >= 7).

What a module does better (create or recreate a container, pull, build, volume) stays with
community.docker's modules, called through their public interface; nothing here imports
community.docker. Every SDK or transport error becomes a DockerError (NotFound for a 404) whose
message is the engine's; an exec's failure names what the caller said it was doing, never its argv
or environment (they may hold a secret).

Private to this collection (leading underscore): no compatibility promise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import functools
import io
import json
import os
import select
import socket
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.colima_services.devenv.plugins.module_utils import _reconcile as rc

try:
    import docker
    import requests
    from docker import errors as _errors

    HAS_SDK = True
except ImportError:  # Engine() says what to install
    HAS_SDK = False

MISSING_SDK = ("the Docker SDK for Python is missing on the controller: install it into the Python that runs Ansible "
               "(pip install 'docker>=7.1', as in requirements.txt)")


class DockerError(Exception):
    """The engine refused or failed a call; the message is the engine's answer."""


class NotFound(DockerError):
    """The container, image, volume, network or path does not exist."""


class EngineUnavailable(DockerError):
    """No engine answers at the settings' docker_host (or the SDK is missing)."""


class ExecError(DockerError):
    """A command run in a container failed: code is its exit code (None: it did not finish), output its end."""

    def __init__(self, msg, code=None, output=""):
        super(ExecError, self).__init__(msg)
        self.code, self.output = code, output


class ExecTimeout(ExecError):
    """A command run in a container did not finish within its deadline."""


class NotHealthy(DockerError):
    """wait_healthy gave up: info is the container's last inspect ({} when it is gone)."""

    def __init__(self, msg, info):
        super(NotHealthy, self).__init__(msg)
        self.info = info


class _Translated(object):
    """with _Translated(): SDK and transport errors become DockerError / NotFound."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or isinstance(exc, DockerError) or not HAS_SDK:
            return False
        if isinstance(exc, _errors.NotFound):
            raise NotFound(exc.explanation or str(exc))
        if isinstance(exc, _errors.APIError):
            raise DockerError(exc.explanation or str(exc))
        if isinstance(exc, (_errors.DockerException, requests.exceptions.RequestException)):
            raise DockerError("%s: %s" % (type(exc).__name__, exc))
        return False


_translated = _Translated()
_DEADLINE = object()


def demux(data):
    """Docker's multiplexed stream (8-byte frame headers: stream 1 stdout, 2 stderr) -> (stdout, stderr) bytes."""
    out, err, pos = [], [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4:pos + 8], "big")
        (err if data[pos] == 2 else out).append(data[pos + 8:pos + 8 + size])
        pos += 8 + size
    return b"".join(out), b"".join(err)


def _recv(sock, deadline):
    """The next bytes of an exec's attach socket (b"" at its end, None when nothing came yet), or _DEADLINE once
    the deadline has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        return _DEADLINE
    if hasattr(sock, "recv"):  # a socket (TLS engines) or an SSH channel
        sock.settimeout(left)
        try:
            return sock.recv(1 << 16)
        except socket.timeout:
            return _DEADLINE
    poller = select.poll()  # the raw socket file of a unix or tcp engine
    poller.register(sock.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
    if not poller.poll(left * 1000):
        return _DEADLINE
    try:
        return os.read(sock.fileno(), 1 << 16)
    except BlockingIOError:
        return None


class _Chunks(io.RawIOBase):
    """A file object over streamed chunks (tarfile reads an archive as it comes)."""

    def __init__(self, chunks):
        self._chunks, self._buffer = iter(chunks), b""

    def readable(self):
        return True

    def readinto(self, target):
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size], self._buffer = self._buffer[:size], self._buffer[size:]
        return size


def _tar(entries):
    """A tar (bytes) of entries: (name, content bytes or None for a directory, mode, uid, gid)."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name, content, mode, uid, gid in entries:
            info = tarfile.TarInfo(name.lstrip("/"))
            info.mode, info.uid, info.gid, info.mtime = mode, int(uid), int(gid), int(time.time())
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return data.getvalue()


class Engine(object):
    """One connection to the engine at settings["docker_host"] (API settings["api_version"], default auto).

    timeout: seconds any one API call may take (exec and wait_healthy have their own deadlines).
    Raises EngineUnavailable when the SDK is missing or the engine does not answer.
    """

    def __init__(self, settings, timeout=60):
        self.host = settings.get("docker_host") or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        if not HAS_SDK:
            raise EngineUnavailable(MISSING_SDK)
        try:
            self.api = docker.APIClient(base_url=self.host, version=settings.get("api_version") or "auto",
                                        timeout=timeout)
            self.api.ping()
        except (_errors.DockerException, requests.exceptions.RequestException) as exc:
            raise EngineUnavailable("The Docker engine at %s does not answer (%s). Start it (colima start, or "
                                    "dockerd), or point devenv_docker_host (DOCKER_HOST) at the engine that runs the "
                                    "environment."
                                    % (self.host, exc)) from exc

    def close(self):
        self.api.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- inspect -----------------------------------------------------------------------
    def _or_none(self, call, ref):
        try:
            with _translated:
                return call(ref)
        except NotFound:
            return None

    def container(self, name):
        """The container's inspect, or None when it does not exist."""
        return self._or_none(self.api.inspect_container, name)

    def image(self, ref):
        """The image's inspect (by reference or ID), or None."""
        return self._or_none(self.api.inspect_image, ref) if ref else None

    def volume(self, name):
        return self._or_none(self.api.inspect_volume, name)

    def network(self, name):
        return self._or_none(self.api.inspect_network, name)

    def containers(self, labels):
        """Every container (running or not) that carries all these labels ({name: value}): the list entries."""
        with _translated:
            return self.api.containers(all=True, filters={"label": ["%s=%s" % kv for kv in sorted(labels.items())]})

    def image_ids(self):
        """{reference: image ID} of every tagged image: one list call."""
        with _translated:
            images = self.api.images()
        return dict((tag, image["Id"]) for image in images for tag in image.get("RepoTags") or [])

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self, name):
        with _translated:
            self.api.start(name)

    def stop(self, name, timeout=30):
        with _translated:
            self.api.stop(name, timeout=timeout)

    def restart(self, name, timeout=10):
        with _translated:
            self.api.restart(name, timeout=timeout)

    def kill(self, name, signal):
        with _translated:
            self.api.kill(name, signal=signal)

    def remove(self, name):
        """Remove a container (forced); False when there was none."""
        try:
            with _translated:
                self.api.remove_container(name, force=True)
            return True
        except NotFound:
            return False

    def run_helper(self, name, image, argv, labels=None, volumes_from=None, timeout=600):
        """Run argv (the entrypoint) once in a short-lived container (root, no network), remove it; its exit code."""
        self.remove(name)
        with _translated:
            created = self.api.create_container(image, entrypoint=list(argv), user="0", name=name,
                                                labels=dict(labels or {}), host_config=self.api.create_host_config(
                                                    volumes_from=list(volumes_from or []), network_mode="none"))
        try:
            with _translated:
                self.api.start(created["Id"])
                return self.api.wait(created["Id"], timeout=timeout).get("StatusCode")
        finally:
            self.remove(created["Id"])

    def logs(self, name, tail):
        """The last tail lines of the container's stdout and of its stderr, as text."""
        with _translated:
            out = self.api.logs(name, stdout=True, stderr=False, tail=int(tail))
            err = self.api.logs(name, stdout=False, stderr=True, tail=int(tail))
        return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    # ---- exec --------------------------------------------------------------------------
    def exec_run(self, container, argv, what, user="", env=None, timeout=300):
        """(exit code, stdout bytes, stderr bytes) of argv run in the container (docker exec), within timeout s.

        env stays inside the container (the exec's environment: never on a command line, never in a message).
        Raises ExecTimeout (naming what, never argv) when the command has not finished by the deadline: its
        output is no longer read (Docker has no call to stop an exec; a command blocked on its output stops).
        """
        deadline = time.monotonic() + timeout
        environment = ["%s=%s" % kv for kv in sorted((env or {}).items())] or None
        with _translated:
            exec_id = self.api.exec_create(container, list(argv), user=str(user or ""), environment=environment)["Id"]
            sock = self.api.exec_start(exec_id, socket=True)
        data = []
        try:
            while True:
                chunk = _recv(sock, deadline)
                if chunk is _DEADLINE:
                    raise ExecTimeout("%s in %s did not finish within %s s; it was given up"
                                      % (what, container, timeout))
                if chunk == b"":
                    break
                if chunk:
                    data.append(chunk)
        finally:
            sock.close()
        out, err = demux(b"".join(data))
        while True:  # the streams end a moment before the exec is recorded as finished
            with _translated:
                info = self.api.exec_inspect(exec_id)
            if not info.get("Running"):
                return info.get("ExitCode"), out, err
            if time.monotonic() >= deadline:
                raise ExecTimeout("%s in %s did not finish within %s s; it was given up" % (what, container, timeout))
            time.sleep(0.02)

    def exec_ok(self, container, argv, what, user="", env=None, timeout=300):
        """exec_run that raises ExecError (with the end of its stderr) unless the command exits 0; its stdout."""
        code, out, err = self.exec_run(container, argv, what, user=user, env=env, timeout=timeout)
        if code != 0:
            tail = (err or out).decode("utf-8", "replace").strip().splitlines()[-5:]
            raise ExecError("%s failed in %s (exit %s): %s" % (what, container, code, " | ".join(tail) or "no output"),
                            code, "\n".join(tail))
        return out

    # ---- files in a container (the archive endpoint: the container may be stopped) ------------
    def stat(self, container, path):
        """{name, size, mode, mtime, linkTarget} of a path in the container, or None when it does not exist."""
        url = "%s/v%s/containers/%s/archive" % (self.api.base_url, self.api.api_version,
                                                requests.utils.quote(container, safe=""))
        with _translated:
            response = self.api.head(url, params={"path": path})
            if response.status_code == 404:
                return None
            response.raise_for_status()
        header = response.headers.get("X-Docker-Container-Path-Stat") or ""
        return json.loads(base64.b64decode(header).decode("utf-8")) if header else {}

    def archive(self, container, path):
        """The chunks of the tar of path (a file or a directory); NotFound when it does not exist."""
        with _translated:
            chunks, _stat = self.api.get_archive(container, path, chunk_size=1 << 20)
        return chunks

    def get_archive(self, container, path, handle):
        """Stream the tar of path into handle."""
        with _translated:
            for chunk in self.archive(container, path):
                handle.write(chunk)

    def put_archive(self, container, directory, data):
        """Extract a tar (bytes or a file object) into directory in the container."""
        with _translated:
            self.api.put_archive(container, directory, data)

    def get_file(self, container, path, handle=None):
        """The content of one regular file (bytes); with handle, streamed into it and the size returned."""
        with _translated:
            with tarfile.open(fileobj=_Chunks(self.archive(container, path)), mode="r|") as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    source = tar.extractfile(member)
                    if handle is None:
                        return source.read()
                    size = 0
                    for block in iter(functools.partial(source.read, 1 << 20), b""):
                        handle.write(block)
                        size += len(block)
                    return size
        raise NotFound("%s in %s is not a regular file" % (path, container))

    def put_file(self, container, path, content, mode=0o600, uid=0, gid=0):
        """Write one file (bytes) into the container with mode and owner; its directory must exist."""
        directory, name = path.rsplit("/", 1)
        self.put_archive(container, directory or "/", _tar([(name, content, mode, uid, gid)]))

    def read_files(self, container, paths):
        """{path: {content, mode, owner, group} or None}: one archive read per directory, and one per file only
        for what that did not find (a directory behind a symlink, say)."""
        out = dict((path, None) for path in paths)
        for directory in sorted(set(os.path.dirname(p) for p in paths)):
            self._read_into(container, directory, out, out)
        for path in [p for p in paths if out[p] is None]:
            self._read_into(container, path, {path: None}, out)
        return out

    def read_many(self, wanted, workers=8):
        """read_files() for several containers ({container: paths}) side by side: each archive read waits on the
        engine (about 0.1 s), not on this process. {container: read_files() answer}."""
        items = sorted(wanted.items())
        if len(items) < 2:
            return dict((c, self.read_files(c, paths)) for c, paths in items)
        with ThreadPoolExecutor(min(workers, len(items))) as pool:
            answers = pool.map(lambda item: self.read_files(item[0], item[1]), items)
            return dict((c, answer) for (c, _paths), answer in zip(items, answers, strict=True))

    def small_files(self, container, directory, names):
        """{name: content bytes or None} of files directly in a directory of the container: one archive read per file,
        never of the directory itself (a data directory can be large)."""
        out = {}
        for name in names:
            try:
                out[name] = self.get_file(container, directory.rstrip("/") + "/" + name)
            except NotFound:
                out[name] = None
        return out

    def volume_files(self, volume, names, image, labels=None, name=None):
        """small_files at the root of a named volume, through a container made for it from image and removed again,
        never started: the volume mounted read-only, nothing of the image copied into it. name: the helper's
        (a helper left behind by an earlier run is removed first)."""
        if name:
            self.remove(name)
        root = "/devenv-volume"
        mount = docker.types.Mount(root, volume, type="volume", read_only=True, no_copy=True)
        with _translated:
            created = self.api.create_container(image, entrypoint=["/bin/true"], name=name, labels=dict(labels or {}),
                                                host_config=self.api.create_host_config(network_mode="none",
                                                                                        mounts=[mount]))
        try:
            return self.small_files(created["Id"], root, names)
        finally:
            with _translated:  # v: also the anonymous volumes of the image's VOLUME paths, never a named one
                self.api.remove_container(created["Id"], force=True, v=True)

    def _read_into(self, container, path, wanted, out):
        try:
            chunks = self.archive(container, path)
        except NotFound:
            return
        base = os.path.dirname(path.rstrip("/")) or "/"
        with _translated:
            with tarfile.open(fileobj=_Chunks(chunks), mode="r|") as tar:
                for member in tar:
                    name = os.path.join(base, member.name)
                    if name in wanted and member.isfile():
                        out[name] = {"content": tar.extractfile(member).read(), "mode": member.mode,
                                     "owner": member.uid, "group": member.gid}

    def ensure_dirs(self, container, paths):
        """Create the directories of these files that the container lacks (root, 0755) in one upload; existing
        directories stay as they are. Returns the directories created."""
        missing = []
        for directory in sorted(set(os.path.dirname(p) for p in paths)):
            while directory not in ("", "/") and directory not in missing:
                if self.stat(container, directory) is not None:
                    break
                missing.append(directory)
                directory = os.path.dirname(directory)
        if missing:
            self.put_archive(container, "/", _tar([(d, None, 0o755, 0, 0) for d in sorted(missing)]))
        return sorted(missing)

    # ---- health ------------------------------------------------------------------------
    def wait_healthy(self, name, timeout, ready="healthy", probe=None, check=None, give_up_on_exit=True):
        """Until the container is healthy (ready: healthy, or running) and check(inspect) is true; its inspect.

        probe: the container's own healthcheck argv, run here (exec, at most every second) while Docker has not
        yet said healthy: Docker runs its first check only one interval after the start. give_up_on_exit: an
        exited, dead or restarting container ends the wait at once. Raises NotHealthy with the last inspect.
        """
        deadline = time.monotonic() + float(timeout)
        while True:
            info = self.container(name) or {}
            state = info.get("State") or {}
            health = rc.health_of(state, ready)
            if health == "healthy" and (check is None or check(info)):
                return info
            if (health == "failed" and give_up_on_exit) or time.monotonic() >= deadline:
                raise NotHealthy("%s did not become healthy within %s s (state %s, health %s)"
                                 % (name, timeout, state.get("Status", "missing"),
                                    (state.get("Health") or {}).get("Status", "none")), info)
            if probe and state.get("Running"):
                try:
                    left = max(1.0, min(30.0, deadline - time.monotonic()))
                    if self.exec_run(name, probe, "the healthcheck", timeout=left)[0] == 0 and (
                            check is None or check(info)):
                        return info
                except DockerError:
                    pass  # e.g. the container stopped meanwhile: the next inspect tells
            time.sleep(1)
