# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Content hash of local image recipes (shared by the recipe_hash lookup and the service action)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os


class RecipeError(Exception):
    pass


def recipe_hash(directories):
    """One 12-digit hex hash of the files (names and contents) of all the directories together."""
    digest = hashlib.sha256()
    for directory in directories:
        if not os.path.isdir(directory):
            raise RecipeError("recipe_hash: %s is not a directory" % directory)
        files = []
        for root, dirs, names in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            files.extend(os.path.join(root, name) for name in names)
        for path in sorted(files):
            rel = os.path.relpath(path, directory).replace(os.sep, "/")
            digest.update(rel.encode("utf-8") + b"\0")
            with open(path, "rb") as handle:
                digest.update(handle.read())
            digest.update(b"\0")
        digest.update(b"\1")
    return digest.hexdigest()[:12]
