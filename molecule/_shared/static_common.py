"""Helpers shared by the scenarios' static probes (molecule/*/files/static_probe.py), for containers created but
never started: copy a directory out of a container, parse an ini file. Test-only."""
import configparser
import hashlib
import io
import subprocess
import tarfile


def files(container, path, out, digest=False):
    """Copy PATH out of CONTAINER (running or not) into OUT; {"files": {relative path: mode, uid, gid[, sha256]}}."""
    data = subprocess.run(["docker", "cp", "%s:%s" % (container, path), "-"], check=True, capture_output=True).stdout
    meta = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if member.isfile():
                rel = member.name.split("/", 1)[1] if "/" in member.name else member.name
                meta[rel] = {"mode": "%04o" % (member.mode & 0o7777), "uid": member.uid, "gid": member.gid}
                if digest:
                    meta[rel]["sha256"] = hashlib.sha256(tar.extractfile(member).read()).hexdigest()
        tar.extractall(out, filter="data")
    return {"files": meta}


def ini(path):
    """{section: {key: value}} of an ini file, keys kept as written; keys before the first section under ""."""
    parser = configparser.RawConfigParser(strict=True, interpolation=None)
    parser.optionxform = str
    with open(path) as handle:
        parser.read_string("[__root__]\n" + handle.read())
    return {("" if name == "__root__" else name): dict(parser.items(name)) for name in parser.sections()}
