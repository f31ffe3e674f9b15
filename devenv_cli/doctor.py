"""doctor: the checks a developer needs before asking for help, each problem with its fix. The port and memory
checks are the preflight's own (module_utils/_preflight.py); this adds what the preflight does not look at."""

import datetime
import json
import os
import platform
import shutil
import socket
import subprocess

from devenv_cli import OK, UNHEALTHY
from devenv_cli.run import CliError, emit_json, vault_get
from devenv_cli.trust import nickname, nss_databases

MIN_FREE_DISK_GB = 5
MAX_SKEW_S = 5


def _item(check, problems, ok_detail, fix=None):
    if isinstance(problems, str):
        problems = [problems] if problems else []
    return {"check": check, "ok": not problems, "detail": ok_detail if not problems else "; ".join(problems),
            "fix": None if not problems else fix}


def _engine(data):
    import docker
    import docker.errors
    try:
        client = docker.DockerClient(base_url=data["settings"]["docker_host"], timeout=10, version="auto")
        return client, client.info(), client.version()
    except (docker.errors.DockerException, OSError, ValueError) as exc:  # each means: no usable engine
        return None, None, str(exc)


def check_engine(data, info, version):
    if info is None:
        fix = ("Start it: colima start" if data["system"] == "Darwin" else
               "Start the Docker engine (sudo systemctl start docker), or set DOCKER_HOST / devenv_docker_host")
        return _item("engine", "no Docker engine answers at %s (%s)" % (data["settings"]["docker_host"], version),
                     "", fix)
    api, need = version.get("ApiVersion", "0"), data["docker_min_api_version"]
    low = tuple(int(x) for x in api.split(".")) < tuple(int(x) for x in need.split("."))
    return _item("engine", "API %s is older than %s" % (api, need) if low else "",
                 "Docker %s (API %s) at %s" % (info.get("ServerVersion"), api, data["settings"]["docker_host"]),
                 "Upgrade the Docker engine (or Colima)")


def check_colima(data):
    if data["system"] != "Darwin":
        return _item("colima", "", "not macOS: the native engine is used")
    if not shutil.which("colima"):
        return _item("colima", "colima is not installed", "", "brew install colima")
    proc = subprocess.run(["colima", "status", "--json"], capture_output=True, text=True, check=False)
    return _item("colima", "" if proc.returncode == 0 else "colima is not running", "running",
                 "colima start (or devenv up, which starts it)")


def check_memory(data, info):
    from ansible_collections.colima_services.devenv.plugins.module_utils import (
        _preflight,
    )
    if info is None:
        return _item("memory", "unknown (no engine)", "", "start the engine first")
    problems, need = _preflight.check_memory(data["plan"], info.get("MemTotal"), data["memory_headroom_mb"])
    return _item("memory", problems, "engine has %d MiB, the enabled components need about %d MiB"
                 % (int(info.get("MemTotal") or 0) // 1048576, need),
                 "see above: more engine memory or fewer components")


def check_disk(data):
    path = data["home"] if os.path.isdir(data["home"]) else os.path.expanduser("~")
    free = shutil.disk_usage(path).free / 1e9
    return _item("disk", "only %.1f GB free under %s" % (free, path) if free < MIN_FREE_DISK_GB else "",
                 "%.1f GB free under %s" % (free, path), "free at least %d GB (docker image prune removes unused "
                 "images)" % MIN_FREE_DISK_GB)


def check_ports(data, client):
    from ansible_collections.colima_services.devenv.plugins.module_utils import (
        _preflight,
    )
    settings = data["settings"]
    containers = client.api.containers(all=True) if client else []
    plan = data["plan"]
    enabled = sorted(c for c in plan if plan[c].get("enabled", True))
    problems = _preflight.check_ports(containers, plan, enabled, settings["bind_address"],
                                      settings["container_prefix"], settings["label_prefix"], data["instance"])
    count = sum(1 for c in enabled for p in (plan[c].get("ports") or {}).values() if p.get("host"))
    return _item("ports", problems, "%d host ports free or held by this instance's own containers" % count,
                 "each line names the variable that moves the port")


def check_localhost(data):
    hosts = sorted(set(u.split("://")[1].split(":")[0].split("/")[0] for c in data["plan"]
                       if data["plan"][c].get("enabled", True) for u in _urls(data, c) if "://" in u))
    unresolved = []
    for host in hosts:
        try:
            addresses = set(a[4][0] for a in socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP))
            if not addresses & {"127.0.0.1", "::1"}:
                unresolved.append(host)
        except socket.gaierror:
            unresolved.append(host)
    if not hosts:
        return _item("*.localhost", "", "no edge routes (the edge is disabled)")
    return _item("*.localhost", "this system's resolver (curl, Python, psql) does not resolve %s; browsers "
                 "(Chromium, Firefox, Safari) resolve *.localhost themselves" % ", ".join(unresolved)
                 if unresolved else "",
                 "%s resolve to loopback" % ", ".join(hosts),
                 "add to /etc/hosts: 127.0.0.1 %s   (or per command: curl --resolve %s:%s:127.0.0.1 ...)"
                 % (" ".join(unresolved), unresolved[0] if unresolved else "", _edge_port(data)))


def _urls(data, component):
    from ansible_collections.colima_services.devenv.plugins.module_utils import _status
    return _status.urls(component, data["plan"], data["settings"]["bind_address"])


def _edge_port(data):
    edges = [e for e in data["plan"].values() if e.get("edge") and e.get("enabled", True)]
    return ((edges[0].get("ports") or {}).get("https") or {}).get("host", 443) if edges else 443


def _pem_body(path):
    with open(path) as handle:
        text = handle.read()
    return "".join(text.split("-----BEGIN CERTIFICATE-----", 1)[-1].split("-----END CERTIFICATE-----")[0].split())


def check_trust(data):
    ca = data["ca_file"]
    if not os.path.isfile(ca):
        return [_item("CA trust", "no root CA yet at %s" % ca, "", "devenv up writes it; then devenv trust")]
    body, out = _pem_body(ca), []
    bundles = [b for b in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
               if os.path.isfile(b)]
    if data["system"] == "Darwin":
        proc = subprocess.run(["security", "verify-cert", "-c", ca], capture_output=True, check=False)
        out.append(_item("CA trust: macOS keychain", "" if proc.returncode == 0 else "not trusted", "trusted",
                         "devenv trust"))
    elif bundles:
        with open(bundles[0]) as handle:
            found = body in "".join(handle.read().split())
        out.append(_item("CA trust: system store", "" if found else "not in %s" % bundles[0], "in " + bundles[0],
                         "devenv trust"))
    certutil = shutil.which("certutil")
    for db in nss_databases(os.path.expanduser("~")):
        if not os.path.exists(os.path.join(db, "cert9.db")):
            continue
        found = certutil and subprocess.run([certutil, "-L", "-d", "sql:" + db, "-n", nickname(data["instance"])],
                                            capture_output=True, check=False).returncode == 0
        out.append(_item("CA trust: NSS %s" % db, "" if found else "not in this browser database", "trusted",
                         "devenv trust (needs certutil)"))
    return out


def check_vault(data):
    if not data["plan"].get("vault", {}).get("enabled", True):
        return _item("vault", "", "disabled")
    try:
        health = vault_get(data["_ctx"], "sys/health?standbyok=true&sealedcode=200&uninitcode=200", token="")
    except CliError as exc:
        return _item("vault", str(exc), "", "devenv up starts and unseals it")
    sealed = health.get("sealed") or not health.get("initialized")
    return _item("vault", "sealed" if sealed else "", "unsealed (%s)" % health.get("version"),
                 "devenv up unseals it (with the keys in %s)" % data["vault_dir"])


def check_clock(info):
    if not info or not info.get("SystemTime"):
        return _item("clock", "", "unknown (no engine)")
    from ansible_collections.colima_services.devenv.plugins.module_utils import _status
    engine = _status.parse_time(info["SystemTime"])
    skew = abs((datetime.datetime.now(datetime.timezone.utc) - engine).total_seconds()) if engine else 0
    return _item("clock", "the engine's clock is %.0f s off this machine's" % skew if skew > MAX_SKEW_S else "",
                 "engine and host agree within %.1f s" % skew,
                 "sync the clock (colima restart; Linux: timedatectl set-ntp true): certificates and tokens "
                 "are checked against it")


def check_images(data, client):
    source = data["settings"]["image_source"]
    path = os.path.join(data["home"], "images", "unavailable.json")
    try:
        with open(path) as handle:
            unavailable = sorted(json.load(handle))
    except (OSError, ValueError):
        unavailable = []
    local = len(client.images.list(name=data["settings"]["local_image_prefix"].rstrip("/") + "/*")) if client else 0
    detail = "image source %s; %d local recipe images built" % (source, local)
    return _item("images", "", detail + ("; upstream images not pullable lately: %s" % ", ".join(unavailable)
                                         if unavailable else ""))


def doctor(ctx, args):
    data = dict(ctx.plan(), _ctx=ctx)
    client, info, version = _engine(data)
    checks = [check_engine(data, info, version), check_colima(data), check_memory(data, info), check_disk(data),
              check_ports(data, client), check_localhost(data), *check_trust(data),
              check_vault(data), check_clock(info), check_images(data, client)]
    if client:
        client.close()
    problems = [c for c in checks if not c["ok"]]
    if args.json:
        emit_json({"ok": not problems, "checks": checks, "host": platform.platform()})
    else:
        for item in checks:
            print("%-4s %-14s %s" % ("ok" if item["ok"] else "FIX", item["check"], item["detail"]))
            if not item["ok"] and item["fix"]:
                print("     %-14s -> %s" % ("", item["fix"]))
        print("%d problems" % len(problems) if problems else "no problems found")
    return UNHEALTHY if problems else OK


