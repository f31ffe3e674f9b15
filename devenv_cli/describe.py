"""describe (every address of the plan) and creds (a component's secret from Vault, with its connection URLs)."""

import sys

from devenv_cli import OK
from devenv_cli.clients import url
from devenv_cli.run import CliError, container, emit_json, vault_get

# Where a container is expected to have the root CA (mount the host's file there) for the in-network URLs.
NETWORK_CA = "/run/devenv/root-ca.pem"


def _edge_url(plan, component):
    from ansible_collections.colima_services.devenv.plugins.module_utils import _status
    return [u for u in _status.urls(component, plan, "127.0.0.1") if "://" in u]


def addresses(data, component):
    """Host and in-network addresses of one enabled component."""
    plan, settings = data["plan"], data["settings"]
    spec = plan[component]
    bind = settings["bind_address"]
    ports = {}
    for name, port in sorted((spec.get("ports") or {}).items()):
        ports[name] = {"host": "%s:%s" % (bind, port["host"]) if port.get("host") else None,
                       "network": "%s:%s" % (component, port["container"]), "kind": port.get("kind", "tcp")}
    return {"component": component, "container": settings["container_prefix"] + component, "ip": spec.get("ip"),
            "network": settings["network_name"], "ports": ports, "urls": _edge_url(plan, component),
            "ca_file": data["ca_file"], "secret": (spec.get("vault") or {}).get("secret")}


def describe(ctx, args):
    data = ctx.plan()
    plan = data["plan"]
    enabled = sorted(c for c in plan if plan[c].get("enabled", True))
    doc = {"instance": data["instance"], "profile": data["profile"], "network": data["settings"]["network_name"],
           "vault_url": data["vault_url"], "ca_file": data["ca_file"],
           "components": [addresses(data, c) for c in enabled],
           "disabled": sorted(c for c in plan if not plan[c].get("enabled", True))}
    if args.json:
        emit_json(doc)
        return OK
    print("instance %s (profile %s), network %s; trust the CA: devenv trust (file %s)"
          % (doc["instance"], doc["profile"], doc["network"], doc["ca_file"]))
    for item in doc["components"]:
        print("\n%s  container %s, %s on %s" % (item["component"], item["container"], item["ip"], item["network"]))
        for link in item["urls"]:
            print("  browser   %s" % link)
        for name, port in item["ports"].items():
            print("  %-9s from the host %-21s from containers %s" % (name, port["host"] or "(not published)",
                                                                     port["network"]))
        if item["secret"]:
            print("  connect   devenv creds %s   (user, password, URLs)" % item["component"])
    if doc["disabled"]:
        print("\ndisabled: %s" % ", ".join(doc["disabled"]))
    return OK


def credentials(ctx, component):
    """The component's secret (secret/<name> in Vault, read with the root token) and its connection URLs."""
    data = ctx.plan()
    container(ctx, component)
    spec = data["plan"][component]
    vault = spec.get("vault")
    where = addresses(data, component)
    fields = {}
    if vault:
        fields = (vault_get(ctx, "secret/data/%s" % vault["secret"]).get("data") or {}).get("data") or {}
    ca = data["ca_file"]
    urls = {"host": {}, "network": {}}
    for name, port in (spec.get("ports") or {}).items():
        if port.get("host"):
            link = url(name, "localhost", port["host"], fields, ca)
            if link:
                urls["host"][name] = link
        link = url(name, component, port["container"], fields, NETWORK_CA)
        if link:
            urls["network"][name] = link
    return {"component": component, "secret": vault["secret"] if vault else None, "fields": fields, "urls": urls,
            "ca_file": ca, "ports": where["ports"]}


def creds(ctx, args):
    doc = credentials(ctx, args.component)
    if not doc["secret"]:
        raise CliError("%s has no secret in Vault (its registry entry says vault: false)%s"
                       % (args.component, "; its root token is in %s" % ctx.plan()["root_token_file"]
                          if args.component == "vault" else ""))
    if args.json:
        emit_json(doc)
        return OK
    print("%s (secret/%s in Vault; CA %s)" % (doc["component"], doc["secret"], doc["ca_file"]))
    for key, value in sorted(doc["fields"].items()):
        print("  %-16s %s" % (key, value))
    for side, title in (("host", "from the host"), ("network", "from a container on the network")):
        for name, link in sorted(doc["urls"][side].items()):
            print("  %-16s %s" % ("%s (%s)" % (name, title.split()[-1]), link))
    sys.stdout.flush()
    return OK
