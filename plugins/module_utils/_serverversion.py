# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Which server a data volume belongs to, and whether an image may start on it (the service spec's `server`).

A data volume records the server that runs on it in a small file at its root (RECORD: product and release, as
JSON), written once the server is up on it. Before the service step recreates the container, it compares what
the volume holds with the server of the image it would start, and refuses another product or release before
anything changes. What the volume holds is believed in the order of SOURCES: its record; for a volume without
one, what the data's own files say (PostgreSQL's PG_VERSION, MariaDB's mysql_upgrade_info); else the server of the
image of the container that ran on it. An image's server comes from its env or labels (PG_MAJOR, MYSQL_MAJOR,
...) by the rules of the spec: no product is named in code. No I/O here.

Private to this collection (leading underscore): no compatibility promise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

RECORD = ".devenv-server"
SOURCES = ("record", "data", "previous")
DOCS = 'docs/upgrading.md ("Another server version on a data volume")'
FIELDS = ("volume", "variable", "image", "data")

_RELEASE = re.compile(r"^\s*(?:\d+:)?(\d+)(?:\.(\d+))?")


def release(value):
    """The release line a version string starts with (an epoch such as `1:` skipped): its first two numbers, or the
    one number there is: '16', '8.4', '10.11', '7.0' from '16', '8.4.3-1.el9', '1:10.11.7+maria~ubu2204',
    '10.11.18-MariaDB', '7.0.15'. None when it starts with no number. A rule must therefore point at a value that
    starts with the release (PostgreSQL's PG_MAJOR, not its PG_VERSION 16.6-1.pgdg120+1)."""
    match = _RELEASE.match(value or "")
    if not match:
        return None
    return match.group(1) if match.group(2) is None else "%s.%s" % match.groups()


def describe(server):
    """'PostgreSQL 16'."""
    return "%s %s" % (server["product"], server["release"])


def same(one, other):
    return (one["product"], one["release"]) == (other["product"], other["release"])


def _text(content):
    if content is None:
        return None
    return content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)


def image_server(config, rules):
    """{product, release} that an image runs (config: the Config of its inspect), by the first rule whose `env`
    variable or `label` the image sets to a version; None when none does."""
    config = config or {}
    env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
    labels = config.get("Labels") or {}
    for rule in rules:
        found = release(env.get(rule["env"]) if "env" in rule else labels.get(rule.get("label")))
        if found:
            return {"product": rule["product"], "release": found}
    return None


def data_server(files, rules):
    """{product, release, file} as the data's own files say (files: {name at the volume's root: content or None}),
    by the first rule whose `file` is there, holds `contains` (when given) and starts with a version; else None."""
    for rule in rules:
        text = _text(files.get(rule["file"]))
        if text is not None and rule.get("contains", "") in text and release(text):
            return {"product": rule["product"], "release": release(text), "file": rule["file"]}
    return None


def record(server, image):
    """The content of RECORD for a server started from image."""
    return json.dumps({"product": server["product"], "release": server["release"], "image": image},
                      sort_keys=True) + "\n"


def parse_record(content):
    """{product, release, image} from the content of RECORD; None when there is none or it is not one."""
    try:
        data = json.loads(_text(content) or "")
    except ValueError:
        return None
    if not isinstance(data, dict) or not data.get("product") or not data.get("release"):
        return None
    return {"product": str(data["product"]), "release": str(data["release"]), "image": str(data.get("image") or "")}


def file_names(spec):
    """The files at the volume's root that the step reads: RECORD and those of the data rules, each once."""
    names = [RECORD]
    for rule in spec.get("data") or []:
        if rule["file"] not in names:
            names.append(rule["file"])
    return names


def mount_path(container, volume):
    """Where a container (its inspect, or None) mounts the named volume, or None."""
    for mount in (container or {}).get("Mounts") or []:
        if mount.get("Type") == "volume" and mount.get("Name") == volume:
            return mount.get("Destination")
    return None


class Verdict(object):
    """refuse: the source (one of SOURCES) of a server the image's differs from; write: the server to record once
    it runs on the volume; warning: 'unknown-image' (the image says nothing) or 'unknown-data' (nothing says what
    an existing volume holds)."""

    def __init__(self, refuse=None, write=None, warning=None):
        self.refuse, self.write, self.warning = refuse, write, warning

    def __eq__(self, other):
        return (self.refuse, self.write, self.warning) == (other.refuse, other.write, other.warning)

    def __repr__(self):
        return "Verdict(refuse=%r, write=%r, warning=%r)" % (self.refuse, self.write, self.warning)


def known(found):
    """(server, source) from the first source of SOURCES that says something, else (None, None)."""
    for source in SOURCES:
        if found.get(source):
            return found[source], source
    return None, None


def verdict(found, wanted, kept=False, new=False):
    """What the step does about one data volume, before anything changes.

    found: {source: server or None} for SOURCES; wanted: the server of the image that would run on the volume (None:
    the image does not say); kept: the container stays as it is (same image: only a missing record is written,
    from the server that runs or else from the data); new: the volume does not exist yet.
    """
    if found.get("record"):
        if kept:
            return Verdict()
        if wanted is None:
            return Verdict(warning="unknown-image")
        return Verdict() if same(found["record"], wanted) else Verdict(refuse="record")
    if kept or new:
        return Verdict(write=wanted or (found.get("data") if kept else None))
    server, source = known(found)
    if wanted is None:
        return Verdict(warning="unknown-image" if server else None)
    if server is None:
        return Verdict(write=wanted, warning="unknown-data")
    return Verdict(write=wanted) if same(server, wanted) else Verdict(refuse=source)


def _evidence(source, server, previous_image):
    if source == "record":
        return "recorded in its file %s%s" % (RECORD, " when %s started on it" % server["image"]
                                               if server.get("image") else "")
    if source == "data":
        return "as its file %s says" % server["file"]
    return "the server of %s, the image of the container that ran on it" % previous_image


def refusal(ctx, server, source):
    """The message of a refusal. ctx: component, volume, container, ref (the image that would start), wanted (its
    server), variable (the one that sets the image), upstream (its value), previous_image."""
    have, want = describe(server), describe(ctx["wanted"])
    if ctx["ref"] != ctx["upstream"]:
        keep = ("%s could not be pulled, so the local recipe was chosen: make it available (docker pull or "
                "docker load; -e devenv_image_retry=true pulls again now), or set %s to another image of %s"
                % (ctx["upstream"], ctx["variable"], have))
    else:
        keep = ("set %s to an image of %s (it is %s now), or devenv_image_source: local when the data came from the "
                "local recipe" % (ctx["variable"], have, ctx["upstream"]))
    return ("%s: the data on the volume %s belongs to %s (%s), but %s would run %s on it. Nothing was changed: "
            "%s was not recreated. To keep the data, give it %s again: %s. To move the data to %s: back it up "
            "(playbooks/backup.yml), remove the container and the volume, run again and restore the backup, as %s "
            "describes." % (ctx["component"], ctx["volume"], have, _evidence(source, server, ctx["previous_image"]),
                            ctx["ref"], want, ctx["container"], have, keep, want, DOCS))


def warning(ctx, code, server=None):
    """The message of a verdict's warning (server: what the volume holds, for 'unknown-image')."""
    if code == "unknown-image":
        return ("%s: %s sets none of the env variables or labels that tell its server (see the spec's server.image), "
                "so it was not compared with the data on the volume %s (%s)."
                % (ctx["component"], ctx["ref"], ctx["volume"], describe(server)))
    return ("%s: the volume %s has no record of its server, and neither its data nor a container that ran on it says "
            "which it is; recorded %s, the server of %s, which starts on it now. If the data came from another "
            "server, see %s." % (ctx["component"], ctx["volume"], describe(ctx["wanted"]), ctx["ref"], DOCS))


def _rule_problems(where, rules, needs, one_of):
    problems = []
    for index, rule in enumerate(rules if isinstance(rules, list) else [rules]):
        if not isinstance(rule, dict) or not all(isinstance(rule.get(n), str) and rule.get(n) for n in needs) or (
                one_of and len([k for k in one_of if rule.get(k)]) != 1):
            problems.append("%s[%d] needs %s%s" % (where, index, " and ".join(needs),
                                                   " and one of %s" % " or ".join(one_of) if one_of else ""))
        elif "/" in rule.get("file", ""):
            problems.append("%s[%d].file must be a name at the volume's root, got %r" % (where, index, rule["file"]))
    return problems


def spec_problems(server, volumes):
    """Problems of a service spec's `server`, each naming the field (volumes: the spec's volumes)."""
    if not isinstance(server, dict):
        return ["server must be a dict with %s, got %r" % (", ".join(FIELDS), server)]
    problems = []
    unknown = sorted(set(server) - set(FIELDS))
    if unknown:
        problems.append("server has unknown field(s) %s; the fields are %s" % (", ".join(unknown), ", ".join(FIELDS)))
    names = [v.get("name") for v in volumes or [] if isinstance(v, dict)]
    if server.get("volume") not in names:
        problems.append("server.volume must be the name of one of volumes (%s), got %r"
                        % (", ".join(map(str, names)) or "none", server.get("volume")))
    if not isinstance(server.get("variable"), str) or not server.get("variable"):
        problems.append("server.variable must name the variable that sets the image (postgres_image)")
    if not server.get("image"):
        problems.append("server.image needs at least one rule ({env: PG_MAJOR, product: PostgreSQL})")
    problems += _rule_problems("server.image", server.get("image") or [], ("product",), ("env", "label"))
    problems += _rule_problems("server.data", server.get("data") or [], ("product", "file"), ())
    return problems
