# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""MongoDB dump and restore without the database tools, for images that have python3 and pymongo but no mongodump
(the local recipe images/mongodb). The backup action uploads this file into the container's private work directory
and runs it there with python3; it is not imported by any module.

  python3 _mongo_dump.py dump USER DIR PASSWORD_FILE
                                            every database but admin, config and local into DIR, in mongodump's
                                            directory layout: DIR/<db>/<collection>.bson (the documents, as BSON,
                                            one after the other) and <collection>.metadata.json (options and indexes,
                                            canonical extended JSON), so that mongorestore reads it too
  python3 _mongo_dump.py restore USER DIR PASSWORD_FILE
                                            the same layout back, like mongorestore --drop: each collection in DIR is
                                            dropped, created with its options, filled, and its indexes are rebuilt

The user is the admin (root role) user; its password is read from the container's 0600 file PASSWORD_FILE (a name in
the conf directory: _backup.CLIENT_FILES), never an argument.
TLS (verifying the server's certificate for localhost with the container's CA) when the CA file is there.
Prints one JSON object: {"tool": ..., "databases": {db: {collection: documents}}}. Needs pymongo >= 3.9.

Private to this collection (leading underscore): no compatibility promise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import struct
import sys

# Where the mongodb role put the container's files: the exec's environment says (_backup.conf_env).
CONF_ENV = "DEVENV_CONF"
# The server's own databases: users live in admin and are managed by the mongodb role.
SKIP = ("admin", "config", "local")
BATCH = 1000


def index_specs(metadata):
    """(keys, options) for every index of a metadata document but _id's, for create_index."""
    out = []
    for index in metadata.get("indexes") or []:
        if index.get("name") == "_id_":
            continue
        keys = list(index["key"].items())
        options = dict((k, v) for k, v in index.items() if k not in ("key", "v", "ns"))
        out.append((keys, options))
    return out


def collection_options(metadata):
    """Options for create_collection (capped, size, validator...), without what the server sets by itself."""
    return dict((k, v) for k, v in (metadata.get("options") or {}).items() if k not in ("uuid",))


def bson_documents(handle):
    """The raw documents of a .bson file (each: int32 little-endian length, then the rest of the document)."""
    while True:
        head = handle.read(4)
        if not head:
            return
        if len(head) < 4:
            raise ValueError("truncated BSON file")
        size = struct.unpack("<i", head)[0]
        body = handle.read(size - 4)
        if size < 5 or len(body) != size - 4:
            raise ValueError("truncated BSON file")
        yield head + body


def _client(user, password_file):
    from pymongo import MongoClient
    conf = os.environ[CONF_ENV]
    with open(os.path.join(conf, password_file)) as handle:
        password = handle.read().strip()
    ca_file = os.path.join(conf, "mongodb-ca.crt")
    tls = {"tls": True, "tlsCAFile": ca_file} if os.path.exists(ca_file) else {}
    return MongoClient("localhost", 27017, username=user, password=password, authSource="admin",
                       serverSelectionTimeoutMS=15000, **tls)


def dump(client, directory):
    from bson import json_util
    from bson.codec_options import CodecOptions
    from bson.raw_bson import RawBSONDocument
    raw = CodecOptions(document_class=RawBSONDocument)
    summary = {}
    for name in sorted(client.list_database_names()):
        if name in SKIP:
            continue
        database = client.get_database(name)
        os.makedirs(os.path.join(directory, name), mode=0o700)
        summary[name] = {}
        for info in sorted(database.list_collections(), key=lambda i: i["name"]):
            collection = info["name"]
            if info.get("type", "collection") != "collection" or collection.startswith("system."):
                continue  # views and the server's own collections
            count = 0
            with open(os.path.join(directory, name, collection + ".bson"), "wb") as handle:
                for document in database.get_collection(collection, codec_options=raw).find(batch_size=BATCH):
                    handle.write(document.raw)
                    count += 1
            metadata = {"collectionName": collection, "type": "collection", "options": info.get("options") or {},
                        "indexes": [dict((k, v) for k, v in index.items() if k != "ns")
                                    for index in database[collection].list_indexes()]}
            with open(os.path.join(directory, name, collection + ".metadata.json"), "w") as handle:
                handle.write(json_util.dumps(metadata, json_options=json_util.CANONICAL_JSON_OPTIONS))
            summary[name][collection] = count
    return summary


def restore(client, directory):
    from bson import json_util
    from bson.raw_bson import RawBSONDocument
    summary = {}
    for name in sorted(os.listdir(directory)):
        if name in SKIP or not os.path.isdir(os.path.join(directory, name)):
            continue
        database = client.get_database(name)
        summary[name] = {}
        for filename in sorted(os.listdir(os.path.join(directory, name))):
            if not filename.endswith(".bson"):
                continue
            collection = filename[:-len(".bson")]
            metadata = {}
            meta_path = os.path.join(directory, name, collection + ".metadata.json")
            if os.path.exists(meta_path):
                with open(meta_path) as handle:
                    metadata = json_util.loads(handle.read())
            database.drop_collection(collection)
            target = database.create_collection(collection, **collection_options(metadata))
            count, batch = 0, []
            with open(os.path.join(directory, name, filename), "rb") as handle:
                for document in bson_documents(handle):
                    batch.append(RawBSONDocument(document))
                    if len(batch) >= BATCH:
                        target.insert_many(batch, ordered=True)
                        count, batch = count + len(batch), []
            if batch:
                target.insert_many(batch, ordered=True)
                count += len(batch)
            for keys, options in index_specs(metadata):
                target.create_index(keys, **options)
            summary[name][collection] = count
    return summary


def main(argv):
    if len(argv) != 5 or argv[1] not in ("dump", "restore"):
        print("usage: %s dump|restore USER DIR PASSWORD_FILE" % argv[0], file=sys.stderr)
        return 2
    from pymongo.errors import PyMongoError
    command, user, directory, password_file = argv[1:]
    os.umask(0o077)  # the dump is as private as the database
    try:
        client = _client(user, password_file)
        summary = (dump if command == "dump" else restore)(client, directory)
    except (PyMongoError, OSError, ValueError) as exc:
        print("%s failed: %s" % (command, str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__),
              file=sys.stderr)
        return 1
    print(json.dumps({"tool": "pymongo", "databases": summary}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
