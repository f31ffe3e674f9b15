"""Copy a backup directory and spoil one artefact so that its restore fails for real, with the manifest's size and
sha256 made to match (so that only the restore itself can notice):

  spoil_backup.py SRC DST truncate FILE    FILE cut short by 40 bytes (pg_restore fails half way)
  spoil_backup.py SRC DST hardlink FILE    FILE (a tar) with a hard link to a member it does not hold appended
                                           (Docker refuses the upload after the volume was emptied)
"""

import hashlib
import json
import os
import shutil
import sys
import tarfile


def main(src, dst, how, relpath):
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    path = os.path.join(dst, relpath)
    if how == "truncate":
        with open(path, "rb") as handle:
            data = handle.read()
        with open(path, "wb") as handle:
            handle.write(data[:-40])
    else:
        with tarfile.open(path, "r:") as tar:
            top = tar.getnames()[0].split("/")[0]
        link = tarfile.TarInfo(top + "/link")
        link.type, link.linkname = tarfile.LNKTYPE, top + "/not-in-the-tar"
        with tarfile.open(path, "a") as tar:
            tar.addfile(link)
    with open(os.path.join(dst, "manifest.json")) as handle:
        manifest = json.load(handle)
    for item in manifest["artefacts"]:
        if item["file"] == relpath:
            with open(path, "rb") as handle:
                item["sha256"] = hashlib.sha256(handle.read()).hexdigest()
            item["size"] = os.path.getsize(path)
    with open(os.path.join(dst, "manifest.json"), "w") as handle:
        json.dump(manifest, handle)


if __name__ == "__main__":
    main(*sys.argv[1:])
