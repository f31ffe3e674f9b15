# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Host-side file helpers of the whole collection (modules and actions): atomic writes and sha256.

Private to this collection (leading underscore): no compatibility promise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import hashlib
import os
import tempfile


class FileError(Exception):
    """A file could not be written; the message names it and says why."""


@contextlib.contextmanager
def atomic_open(path, mode=0o600, overwrite=True):
    """A binary handle on a temporary file beside path that becomes path when the block ends without an error.

    The file never exists with a wider mode or partial content: it is created with mode, flushed to disk, then
    renamed over path (overwrite=True) or linked to it (overwrite=False: FileError when path exists, even when
    it appeared meanwhile). A missing directory is created 0700. On an error the temporary file is removed.
    """
    path = os.path.expanduser(path)
    directory = os.path.dirname(path) or "."
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700)
        if not overwrite and os.path.exists(path):
            raise FileError("Refusing to overwrite %s." % path)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
    except OSError as exc:
        raise FileError("Cannot write %s: %s" % (path, exc.strerror or exc)) from exc
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.rename(tmp, path)
        else:
            # link() fails if the target appeared meanwhile: never clobber a file we did not see.
            os.link(tmp, path)
            os.unlink(tmp)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise FileError("Cannot write %s: %s" % (path, exc.strerror or exc)) from exc
        raise


def atomic_write(path, content, mode=0o600, overwrite=True):
    """Write content (bytes or text, UTF-8) to path through atomic_open."""
    with atomic_open(path, mode=mode, overwrite=overwrite) as handle:
        handle.write(content if isinstance(content, bytes) else content.encode("utf-8"))


def sha256_file(path):
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
