# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""The component registry: devenv_components (declared once) and what every layer derives from it.

``registry`` turns the declared plan plus the per-machine overrides into the resolved plan that
every role reads (``_devenv_plan``). The other filters derive what one layer needs from it:
Vault layouts and certificate roles, the names on a component's certificate, edge routes and scrape
targets. Adding a component is data: these filters pick it up.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import ipaddress

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.colima_services.devenv.plugins.module_utils import _preflight

PORT_KINDS = ("tcp", "http", "https", "metrics")
PROFILES = ("minimal", "standard", "core", "full")
BACKUP_METHODS = ("pg_dump", "mysqldump", "raft_snapshot", "redis_rdb", "rabbitmq_definitions",
                  "mongodump", "volume_tar", "none")
DEFAULT_VAULT = {"data": {"tls_enabled": True}, "generate": ["password"]}


def _plain(value):
    """A plain copy of (possibly lazily templated) input: every value resolved by iterating over it."""
    if isinstance(value, dict):
        return dict((k, _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _merge(base, extra):
    out = dict(base)
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _bool(value, where):
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise AnsibleFilterError("%s must be true or false, got %r" % (where, value)) from None


def _rebase(ip, base, target):
    """172.20.0.10 in the design's 172.20.0.0/16 -> the same host offset in the target subnet."""
    if not ip or base == target:
        return ip
    try:
        addr = ipaddress.ip_address(str(ip))
    except ValueError:
        return ip  # preflight names the bad value
    if addr not in base or addr in target:
        return ip
    offset = int(addr) - int(base.network_address)
    if offset >= target.num_addresses:
        return ip
    return str(target.network_address + offset)


def _port(name, component, port, offset):
    where = "devenv_components.%s.ports.%s" % (component, name)
    if not isinstance(port, dict) or "container" not in port:
        raise AnsibleFilterError("%s must be a dict with container (and host, kind); got %r" % (where, port))
    out = dict(port)
    out.setdefault("host", None)
    out.setdefault("kind", "tcp")
    out.setdefault("protocol", "tcp")
    if out["kind"] not in PORT_KINDS:
        raise AnsibleFilterError("%s.kind is %r; use one of %s" % (where, out["kind"], ", ".join(PORT_KINDS)))
    if offset and out["host"] not in (None, "", 0):
        try:
            out["host"] = int(out["host"]) + offset
        except (TypeError, ValueError):
            pass  # preflight names the bad value
    return out


def _port_named(entry, component, name, field):
    ports = entry.get("ports") or {}
    if name not in ports:
        raise AnsibleFilterError("devenv_components.%s.%s.port is %r, which is not one of its ports (%s)"
                                 % (component, field, name, ", ".join(sorted(ports)) or "none"))
    return ports[name]


def _vault(component, entry, domain):
    spec = entry.get("vault", True)
    if spec is False or spec is None:
        return None
    if spec is True:
        spec = {}
    if not isinstance(spec, dict):
        raise AnsibleFilterError("devenv_components.%s.vault must be false or a dict, got %r" % (component, spec))
    secret = spec.get("secret") or component
    names = [component] + ([secret] if secret != component else []) + list(spec.get("cert_names") or [])
    out = {
        "secret": secret,
        "data": copy.deepcopy(spec.get("data", DEFAULT_VAULT["data"])),
        "generate": list(spec.get("generate", DEFAULT_VAULT["generate"])),
        "share_group": spec.get("share_group"),
        "read_secrets": list(spec.get("read_secrets") or []),
        "cert": _bool(spec.get("cert", True), "devenv_components.%s.vault.cert" % component),
        # The original design names certificate roles after the component (postgres-role), whatever the secret.
        "cert_role": spec.get("cert_role") or component + "-role",
        "cert_names": _unique(names + ["%s.%s" % (n, domain) for n in names] + ["localhost"]),
    }
    return out


def _unique(items):
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _web(component, entry):
    web = entry.get("web")
    if not web:
        return None
    port = _port_named(entry, component, web.get("port"), "web")
    return {"host": web.get("host") or "%s.localhost" % component, "port": port["container"],
            "scheme": "https" if port["kind"] == "https" else "http", "path": web.get("path", "/"),
            # login: the edge asks for its own login (secret/traefik) before the UI, for UIs that have none.
            "login": bool(web.get("login", False)), "health": web.get("health")}


def _metrics(component, entry):
    metrics = entry.get("metrics") or []
    if isinstance(metrics, dict):
        metrics = [metrics]
    out = []
    for item in metrics:
        port = _port_named(entry, component, item.get("port"), "metrics")
        out.append({"port": port["container"], "path": item.get("path", "/metrics"),
                    "scheme": item.get("scheme") or ("https" if port["kind"] == "https" else "http"),
                    "params": copy.deepcopy(item.get("params") or {}),
                    "job": item.get("job") or component})
    return out


def _edge(component, entry):
    """The edge (reverse proxy) marker: {hosts: [...]} names extra hosts (the user's own routes)."""
    edge = entry.get("edge")
    if not edge:
        return None
    if edge is True:
        edge = {}
    if not isinstance(edge, dict):
        raise AnsibleFilterError("devenv_components.%s.edge must be true or a dict ({hosts: [...]}), got %r"
                                 % (component, edge))
    hosts = edge.get("hosts") or []
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h and "*" not in h for h in hosts):
        raise AnsibleFilterError(
            "devenv_components.%s.edge.hosts must be a list of host names (no wildcard: browsers refuse "
            "*.localhost), got %r" % (component, hosts))
    return {"hosts": list(hosts)}


def _edge_names(plan):
    """The edge's certificate names every host it serves (edge_hosts)."""
    hosts = edge_hosts(plan)
    for entry in _enabled(plan):
        if entry.get("edge") and entry.get("vault"):
            entry["vault"]["cert_names"] = _unique(entry["vault"]["cert_names"] + hosts)


def edge_hosts(plan):
    """Every host name the enabled edge serves (web routes of enabled components, then its extra hosts)."""
    edges = [e for e in _enabled(plan) if e.get("edge")]
    return _unique([e["web"]["host"] for e in _enabled(plan) if e.get("web")]
                   + [h for e in edges for h in e["edge"]["hosts"]])


def _backup(component, entry):
    backup = entry.get("backup") or {"method": "none"}
    if isinstance(backup, str):
        backup = {"method": backup}
    if backup.get("method") not in BACKUP_METHODS:
        raise AnsibleFilterError("devenv_components.%s.backup.method is %r; use one of %s"
                                 % (component, backup.get("method"), ", ".join(BACKUP_METHODS)))
    return dict(backup)


def _in_profile(name, declared, profile):
    """Whether the profile includes a declared component: its `profile` marker names the smallest profile that
    includes it (minimal < standard < core < full); an entry without one (the user's own) is in every profile."""
    marker = declared.get("profile")
    if marker is None:
        return True
    if marker not in PROFILES:
        raise AnsibleFilterError("devenv_components.%s.profile is %r; use one of %s"
                                 % (name, marker, ", ".join(PROFILES)))
    return profile is None or PROFILES.index(marker) <= PROFILES.index(profile)


def registry(components, overrides=None, subnet="172.20.0.0/16", design_subnet="172.20.0.0/16",
             port_offset=0, cert_domain="dev-services.local", profile=None):
    """profile (devenv_profile: minimal, standard, core or full) sets the default of `enabled` from each entry's
    `profile` marker; None plans every component (as full). An explicit `enabled` in the overrides wins."""
    try:
        return _registry(components, overrides, subnet, design_subnet, port_offset, cert_domain, profile)
    except AnsibleFilterError as exc:
        raise AnsibleFilterError("Preflight found a problem in the component registry; nothing was changed: %s"
                                 % exc) from None


def _registry(components, overrides, subnet, design_subnet, port_offset, cert_domain, profile=None):
    """Resolve the plan: declared components, rebased and offset, then the overrides merged in.

    IPs of devenv_components written in design_subnet keep their host offset in subnet; host ports
    of devenv_components are moved by port_offset. Values in the overrides are taken as they are.
    An override for a component that is not declared must be a whole new component (ip and ports):
    anything else is a typo, reported with the known names.
    """
    if not isinstance(components, dict):
        raise AnsibleFilterError("devenv_components must be a dict of components, got %r" % (components,))
    components, overrides = _plain(components), _plain(overrides or {})
    if not isinstance(overrides, dict):
        raise AnsibleFilterError("devenv_components_overrides must be a dict, got %r" % (overrides,))
    unknown = sorted(name for name, value in overrides.items()
                     if name not in components and not (isinstance(value, dict) and "ip" in value and "ports" in value))
    if unknown:
        raise AnsibleFilterError(
            "devenv_components_overrides names %s, which is not a component. Known components: %s. "
            "Fix the name, or declare a new component with at least ip and ports."
            % (", ".join(unknown), ", ".join(sorted(components))))
    try:
        target = ipaddress.ip_network(str(subnet), strict=False)
        base = ipaddress.ip_network(str(design_subnet), strict=False)
    except ValueError as exc:
        raise AnsibleFilterError("devenv_network_subnet: %s" % exc) from None
    offset = int(port_offset or 0)
    if profile is not None and profile not in PROFILES:
        raise AnsibleFilterError("devenv_profile is %r; use one of %s (minimal: vault, postgres, redis; standard "
                                 "adds pgbouncer, mysql, mongodb, rabbitmq and the edge; core, the default, adds "
                                 "observability; full adds forgejo and the reference apps)"
                                 % (profile, ", ".join(PROFILES)))

    plan = {}
    for name in sorted(set(components) | set(overrides)):
        declared = copy.deepcopy(components.get(name) or {})
        if not isinstance(declared, dict):
            raise AnsibleFilterError("devenv_components.%s must be a dict (ip, ports, ...), got %r" % (name, declared))
        if declared.get("ip"):
            declared["ip"] = _rebase(declared["ip"], base, target)
        declared["ports"] = dict((p, _port(p, name, v, offset)) for p, v in (declared.get("ports") or {}).items())
        # The profile and the registry's own `enabled` (a condition, e.g. the Redis replicas) set the default;
        # `enabled` given in the overrides wins over both.
        override = overrides.get(name) or {}
        entry = _merge(declared, override)
        enabled = _bool(declared.get("enabled", True), "devenv_components.%s.enabled" % name) and _in_profile(
            name, entry, profile)
        entry["ports"] = dict((p, _port(p, name, v, 0)) for p, v in (entry.get("ports") or {}).items())
        entry["name"] = name
        if isinstance(override, dict) and "enabled" in override:
            enabled = _bool(override["enabled"], "devenv_components_overrides.%s.enabled" % name)
        entry["enabled"] = enabled
        entry["vault"] = _vault(name, entry, cert_domain)
        entry["web"] = _web(name, entry)
        entry["metrics"] = _metrics(name, entry)
        entry["backup"] = _backup(name, entry)
        entry["depends_on"] = list(entry.get("depends_on") or [])
        entry["edge"] = _edge(name, entry)
        plan[name] = entry
    for name in [n for n in sorted(plan) if plan[n].get("replicas") not in (None, 1, "1")]:
        plan.update(_replicas(plan.pop(name), subnet=target, cert_domain=cert_domain))
    _edge_names(plan)
    for name, entry in plan.items():
        missing = [d for d in entry["depends_on"] if d not in plan]
        if missing:
            raise AnsibleFilterError("devenv_components.%s.depends_on names %s, which is not a component"
                                     % (name, ", ".join(missing)))
    return plan


REPLICA_IP_STEP = 10


def _replicas(entry, subnet, cert_domain):
    """A component with replicas: N > 1 as N containers <name>-1..N: the same spec, one Vault identity (secret,
    AppRole, certificate role; each certificate names every replica), one edge route and one scrape job. Replica i
    has the address ip + 10 * (i - 1) and, but for the first, no host port."""
    name = entry["name"]
    try:
        count = int(entry["replicas"])
    except (TypeError, ValueError):
        count = 0
    if count < 1:
        raise AnsibleFilterError("devenv_components.%s.replicas is %r; use a whole number >= 1"
                                 % (name, entry["replicas"]))
    try:
        first = ipaddress.ip_address(str(entry.get("ip")))
    except ValueError:
        raise AnsibleFilterError("devenv_components.%s.ip is %r; replicas need an address to count from"
                                 % (name, entry.get("ip"))) from None
    members = ["%s-%d" % (name, i) for i in range(1, count + 1)]
    out = {}
    for index, member in enumerate(members):
        replica = copy.deepcopy(entry)
        ip = first + REPLICA_IP_STEP * index
        if ip not in subnet:
            raise AnsibleFilterError("devenv_components.%s.replicas: replica %d would have the address %s, outside %s; "
                                     "use fewer replicas or a lower ip" % (name, index + 1, ip, subnet))
        replica.update(name=member, ip=str(ip), replica_of=name, replicas=count)
        if index:
            replica["ports"] = dict((p, dict(v, host=None)) for p, v in replica["ports"].items())
        if replica.get("vault"):
            replica["vault"]["cert_names"] = _unique(replica["vault"]["cert_names"] + members
                                                     + ["%s.%s" % (m, cert_domain) for m in members])
        for item in replica["metrics"]:
            item["job"] = item["job"] if item["job"] != member else name
        replica["backup"] = {"method": "none"}
        out[member] = replica
    return out


def _enabled(plan):
    return [plan[name] for name in sorted(plan) if plan[name].get("enabled", True)]


def vault_services(plan):
    """What vault_service_access needs: one entry per enabled component that uses Vault."""
    services = [{"name": e["vault"]["secret"], "data": e["vault"]["data"], "generate": e["vault"]["generate"],
                 "share_group": e["vault"]["share_group"], "read_secrets": e["vault"]["read_secrets"],
                 "cert_role": e["vault"]["cert_role"]}
                for e in _enabled(plan) if e.get("vault")]
    return _unique_by(services, "name")  # the replicas of a component share one identity


def _unique_by(items, key):
    seen = set()
    return [item for item in items if not (item[key] in seen or seen.add(item[key]))]


def vault_pki_roles(plan, ttl="8760h"):
    """One certificate role per enabled component that uses Vault, allowing exactly its names (no subdomains:
    every component has localhost among its names, and must not get a certificate for vault.localhost)."""
    return _unique_by([{"name": e["vault"]["cert_role"], "allowed_domains": e["vault"]["cert_names"],
                        "allow_subdomains": False, "ttl": ttl, "max_ttl": ttl}
                       for e in _enabled(plan) if e.get("vault") and e["vault"]["cert"]], "name")


def cert_request(plan, component):
    """The certificate a component asks for: its names and IPs (the container's and loopback)."""
    entry = plan.get(component)
    if not entry or not entry.get("vault"):
        raise AnsibleFilterError("cert_request: %s is not a component that uses Vault" % component)
    names = entry["vault"]["cert_names"]
    return {"service": entry["vault"]["secret"], "component": component, "role": entry["vault"]["cert_role"],
            "common_name": names[0], "alt_names": names[1:],
            "ip_sans": [ip for ip in (entry.get("ip"), "127.0.0.1") if ip]}


def web_routes(plan):
    """Edge routes: host name -> the component's address and port, for enabled components with web. The replicas of
    a component are one route (named after the component) with one server each (urls; url is the first); health is
    there when web.health names the path of the edge's active health check."""
    routes = {}
    for e in _enabled(plan):
        if not e.get("web"):
            continue
        name = e.get("replica_of") or e["name"]
        url = "%s://%s:%s" % (e["web"]["scheme"], e["name"], e["web"]["port"])
        if name in routes:
            routes[name]["urls"].append(url)
            continue
        routes[name] = {"component": name, "host": e["web"]["host"], "url": url, "scheme": e["web"]["scheme"],
                        "path": e["web"]["path"], "login": bool(e["web"].get("login"))}
        if e.get("replica_of"):
            routes[name]["urls"] = [url]
        if e["web"].get("health"):
            routes[name]["health"] = e["web"]["health"]
    return list(routes.values())


def scrape_targets(plan):
    """Prometheus scrape jobs, one per metrics endpoint of an enabled component."""
    return [dict(m, target="%s:%s" % (e["name"], m["port"]), component=e["name"])
            for e in _enabled(plan) for m in e.get("metrics") or []]


def vault_secrets(plan, components):
    """The Vault secret names of the given enabled components (e.g. the AppRole credentials a role needs)."""
    return _unique([plan[c]["vault"]["secret"] for c in components
                    if c in plan and plan[c].get("vault") and plan[c].get("enabled", True)])


def readable_secrets(plan, component):
    """The other secrets a component's policy lets it read, where their component is enabled."""
    live = set(e["vault"]["secret"] for e in _enabled(plan) if e.get("vault"))
    return [name for name in (plan[component].get("vault") or {}).get("read_secrets") or [] if name in live]


class FilterModule(object):
    def filters(self):
        return {"registry": registry, "vault_services": vault_services, "vault_pki_roles": vault_pki_roles,
                "cert_request": cert_request, "web_routes": web_routes, "scrape_targets": scrape_targets,
                "vault_secrets": vault_secrets, "edge_hosts": edge_hosts,
                "readable_secrets": readable_secrets, "stale_replicas": _preflight.stale_replicas}
