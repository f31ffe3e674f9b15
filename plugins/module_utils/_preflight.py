# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Checks of the address plan against itself and against the Docker engine.

Private to this collection. Every function returns a list of problems, each a
sentence that names the variable at fault and the fix, so that the caller can
report all of them at once before anything is changed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os
import re
import socket
import subprocess

OVERRIDE_HINT = "devenv_components_overrides"


def enabled_components(components):
    """The enabled entries of the plan, sorted by name for stable messages."""
    return dict(
        (name, spec) for name, spec in sorted((components or {}).items())
        if (spec or {}).get("enabled", True)
    )


def published_ports(spec):
    """(port_name, host_port, container_port) for each published port of a component."""
    result = []
    for port_name, port in sorted(((spec or {}).get("ports") or {}).items()):
        port = port or {}
        host = port.get("host")
        if host in (None, "", 0):
            continue
        result.append((port_name, host, port.get("container")))
    return result


def check_network_settings(subnet, gateway):
    """Returns (problems, network) where network is an ip_network or None."""
    try:
        network = ipaddress.ip_network(str(subnet), strict=True)
    except ValueError as exc:
        return ["devenv_network_subnet '%s' is not a valid network (%s). Use CIDR form such as 172.20.0.0/16."
                % (subnet, exc)], None
    problems = []
    try:
        gw = ipaddress.ip_address(str(gateway))
    except ValueError:
        return ["devenv_network_gateway '%s' is not an IP address. Use an address inside %s, such as %s." % (
            gateway, network, next(network.hosts()))], network
    if gw not in network or gw in (network.network_address, network.broadcast_address):
        problems.append("devenv_network_gateway %s is not a usable address of devenv_network_subnet %s. "
                        "Use one such as %s." % (gw, network, next(network.hosts())))
    return problems, network


def check_plan(components, network, gateway):
    """IPs inside the subnet and unique; ports valid and unique."""
    problems = []
    seen_ips = {}
    seen_ports = {}
    gw = None
    try:
        gw = ipaddress.ip_address(str(gateway))
    except ValueError:
        pass
    for name, spec in enabled_components(components).items():
        where = "%s.%s" % (OVERRIDE_HINT, name)
        raw_ip = (spec or {}).get("ip")
        if not raw_ip:
            problems.append("Component '%s' has no IP. Set %s.ip to a free address inside %s." % (name, where, network))
        else:
            try:
                ip = ipaddress.ip_address(str(raw_ip))
            except ValueError:
                problems.append("Component '%s' has IP '%s', which is not an IP address. Fix %s.ip."
                                % (name, raw_ip, where))
                ip = None
            if ip is not None and network is not None:
                if ip not in network:
                    problems.append(
                        "Component '%s' has IP %s, outside devenv_network_subnet %s. Set %s.ip to an address inside %s."
                        % (name, ip, network, where, network))
                elif ip in (network.network_address, network.broadcast_address) or ip == gw:
                    problems.append(
                        "Component '%s' has IP %s, which is the subnet's network, broadcast or gateway address. "
                        "Set %s.ip to another address." % (name, ip, where))
            if ip is not None:
                if ip in seen_ips:
                    problems.append(
                        "Components '%s' and '%s' both use IP %s. Give each its own address with %s.<component>.ip."
                        % (seen_ips[ip], name, ip, OVERRIDE_HINT))
                else:
                    seen_ips[ip] = name
        for port_name, host, container in published_ports(spec):
            label = "%s.ports.%s" % (where, port_name)
            if not isinstance(host, int) or isinstance(host, bool) or not 1 <= host <= 65535:
                problems.append("Component '%s' publishes host port '%s', not a port number (1-65535). Fix %s.host."
                                % (name, host, label))
                continue
            if not isinstance(container, int) or isinstance(container, bool) or not 1 <= container <= 65535:
                problems.append("Component '%s' port '%s' has container port '%s', not a port number. "
                                "Fix %s.container." % (name, port_name, container, label))
            if host in seen_ports:
                problems.append(
                    "Host port %s is published twice: by %s and by %s. Move one with %s.host."
                    % (host, seen_ports[host], "%s/%s" % (name, port_name), label))
            else:
                seen_ports[host] = "%s/%s" % (name, port_name)
    return problems


def _labels(obj):
    return (obj or {}).get("Labels") or {}


def is_ours(obj, label_prefix, instance):
    labels = _labels(obj)
    return labels.get(label_prefix + ".owner") == "devenv" and labels.get(label_prefix + ".instance") == instance


_REPLICA_NAME = re.compile(r"^(?P<group>.+)-[1-9][0-9]*$")


def replica_group(component, components):
    """The component whose replicas the container of `component` is one of, or None when it is not one.

    A component with `replicas` is its own group (one container at N = 1), a replica in the plan names its group
    (replica_of), and so does <group>-<n> that the plan no longer has (scaled down, or back to one container), or a
    <group> that is now expanded into <group>-1..N (scaled up from one)."""
    components = components or {}
    spec = components.get(component)
    if spec is not None:
        return (spec or {}).get("replica_of") or (component if "replicas" in (spec or {}) else None)
    match = _REPLICA_NAME.match(component or "")
    for group in ([match.group("group")] if match else []) + [component]:
        if "replicas" in (components.get(group) or {}) or any(
                (other or {}).get("replica_of") == group for other in components.values()):
            return group
    return None


def _component_of(container, label_prefix):
    return _labels(container).get(label_prefix + ".component", "")


def stale_replicas(containers, components, label_prefix):
    """The components of the containers (this instance's) that are replicas of an enabled component the plan no
    longer runs them for: scaled from 3 to 1, they are <name>-1..3 and hold the addresses and ports it needs."""
    wanted = enabled_components(components)
    groups = set(replica_group(name, components) for name in wanted) - {None}
    stale = []
    for container in containers or []:
        component = _component_of(container, label_prefix)
        if component and component not in wanted and replica_group(component, components) in groups:
            stale.append(component)
    return sorted(set(stale))


def _same_replicas(container, name, components, label_prefix, instance):
    """The container is this instance's and one of the replicas of component `name` (scaling moves them)."""
    group = replica_group(name, components)
    return (group is not None and is_ours(container, label_prefix, instance)
            and replica_group(_component_of(container, label_prefix), components) == group)


def check_networks(networks, network_name, network, label_prefix, instance):
    """Our network name is ours, and no foreign network overlaps our subnet."""
    problems = []
    if network is None:
        return problems
    for net in networks or []:
        name = net.get("Name")
        subnets = []
        for cfg in ((net.get("IPAM") or {}).get("Config") or []):
            try:
                subnets.append(ipaddress.ip_network(cfg.get("Subnet"), strict=False))
            except (TypeError, ValueError):
                continue
        ours = is_ours(net, label_prefix, instance)
        if name == network_name:
            if not ours:
                problems.append(
                    "A Docker network named '%s' exists but was not created by colima_services.devenv (no ownership "
                    "label). Remove it (docker network rm %s) after stopping its containers, or choose another "
                    "devenv_network_name." % (name, name))
            elif subnets and network not in subnets:
                problems.append(
                    "Our network '%s' exists with subnet %s, not devenv_network_subnet %s. Changing the subnet needs "
                    "the network recreated: remove the dev containers and the network, or set devenv_network_subnet "
                    "back to %s."
                    % (name, ", ".join(str(s) for s in subnets), network, subnets[0]))
            continue
        for other in subnets:
            if other.version == network.version and other.overlaps(network):
                problems.append(
                    "devenv_network_subnet %s overlaps Docker network '%s' (%s), which is not ours. "
                    "Choose a free range for devenv_network_subnet (and devenv_network_gateway and the component IPs), "
                    "or remove that network." % (network, name, other))
    return problems


def _container_name(container):
    names = container.get("Names") or []
    return names[0].lstrip("/") if names else container.get("Id", "?")[:12]


def check_containers(containers, components, check, network_name, container_prefix, label_prefix, instance):
    """Container names and IPs of the plan are not taken by foreign containers."""
    problems = []
    wanted = enabled_components(components)
    by_name = dict((_container_name(c), c) for c in containers or [])
    for name in check:
        spec = wanted.get(name)
        if spec is None:
            continue
        cname = container_prefix + name
        existing = by_name.get(cname)
        if existing is not None and not is_ours(existing, label_prefix, instance):
            problems.append(
                "A container named '%s' exists but is not managed by colima_services.devenv (instance '%s'). "
                "Remove it (docker rm -f %s) or set devenv_container_prefix to another prefix."
                % (cname, instance, cname))
        for other in containers or []:
            other_name = _container_name(other)
            if other_name == cname:
                continue
            nets = ((other.get("NetworkSettings") or {}).get("Networks") or {})
            addr = (nets.get(network_name) or {}).get("IPAddress")
            if addr and spec.get("ip") and addr == str(spec.get("ip")) \
                    and not _same_replicas(other, name, components, label_prefix, instance):
                problems.append(
                    "IP %s of component '%s' is already used by container '%s' on network '%s'. "
                    "Set %s.%s.ip to a free address, or remove that container." % (
                        addr, name, other_name, network_name, OVERRIDE_HINT, name))
    return problems


def port_owner(containers, host_port, bind_address):
    """The container that publishes host_port, or None."""
    for container in containers or []:
        for port in container.get("Ports") or []:
            if port.get("PublicPort") == host_port and port.get("IP") in (bind_address, "0.0.0.0", "::", "", None):
                return container
    return None


# ---- who listens on a port -----------------------------------------------------------------
# A port is busy when something LISTENS on it. bind() is the wrong test: it also fails for a port that an
# outgoing connection holds as its source port for a while (any port of the ephemeral range), which is not a
# conflict: Docker can still publish that port.

_TCP_LISTEN = "0A"
_WILDCARDS = (ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("::"))


def _proc_address(hex_addr):
    """The address of a /proc/net/tcp{,6} local_address field (host byte order per 32-bit word)."""
    raw = bytes.fromhex(hex_addr)
    packed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(packed)
    return address.ipv4_mapped or address if address.version == 6 else address


def parse_proc_net_tcp(text):
    """[(address, port, inode)] of the LISTEN sockets in the text of /proc/net/tcp or /proc/net/tcp6."""
    found = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != _TCP_LISTEN:
            continue
        addr, _, port = fields[1].partition(":")
        found.append((_proc_address(addr), int(port, 16), fields[9]))
    return found


def _readlink(path):
    try:
        return os.readlink(path)
    except OSError:  # closed meanwhile (the listing's own descriptor among them)
        return None


def _socket_owners(inodes, proc="/proc"):
    """{inode: "name (pid N)"} for the sockets whose process this user may see."""
    owners, wanted = {}, set("socket:[%s]" % inode for inode in inodes)
    try:
        pids = [pid for pid in os.listdir(proc) if pid.isdigit()]
    except OSError:
        return owners
    for pid in pids:
        fd_dir = os.path.join(proc, pid, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        hits = wanted.intersection(_readlink(os.path.join(fd_dir, fd)) for fd in fds)
        if not hits:
            continue
        try:
            with open(os.path.join(proc, pid, "comm")) as handle:
                name = handle.read().strip()
        except OSError:
            name = "?"
        for link in hits:
            owners[link[len("socket:["):-1]] = "%s, pid %s" % (name, pid)
    return owners


def _linux_listeners(port, proc="/proc"):
    found = []
    for table in ("tcp", "tcp6"):
        try:
            with open(os.path.join(proc, "net", table)) as handle:
                found += [entry for entry in parse_proc_net_tcp(handle.read()) if entry[1] == port]
        except (IOError, OSError):
            continue
    owners = _socket_owners([inode for _, _, inode in found], proc) if found else {}
    return [(address, owners.get(inode)) for address, _, inode in found]


def _lsof_listeners(port):
    """macOS and other systems with lsof: [(address, "name, pid N")] of the TCP listeners on port."""
    try:
        out = subprocess.run(["lsof", "-nP", "-iTCP:%d" % port, "-sTCP:LISTEN", "-FpcPn"], capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found, pid, name = [], None, None
    for line in out.splitlines():
        tag, value = line[:1], line[1:]
        if tag == "p":
            pid = value
        elif tag == "c":
            name = value
        elif tag == "n":
            host = value.rsplit(":", 1)[0].strip("[]")
            try:
                address = ipaddress.ip_address("0.0.0.0" if host == "*" else host.split("%")[0])
            except ValueError:
                continue
            found.append((address, "%s, pid %s" % (name, pid)))
    return found


def _probe_listeners(bind_address, port):
    """Last resort: a listener answers connect() (the holding process is not known)."""
    address = ipaddress.ip_address(bind_address)
    targets = [address]
    if address in _WILDCARDS or address.is_loopback:
        targets = [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    found = []
    for target in targets:
        sock = socket.socket(socket.AF_INET6 if target.version == 6 else socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(0.5)
        try:
            sock.connect((str(target), port))
            found.append((target, None))
        except OSError:
            pass
        finally:
            sock.close()
    return found


def listeners(port, bind_address="127.0.0.1"):
    """[(address, holder or None)] of the TCP sockets that listen on port on this machine."""
    if os.path.isfile("/proc/net/tcp"):
        return _linux_listeners(port)
    found = _lsof_listeners(port)
    return found if found is not None else _probe_listeners(bind_address, port)


def conflicts(listen_address, bind_address):
    """True when a listener on listen_address takes the port from a container published on bind_address.

    Wildcard binds (0.0.0.0, ::) on either side conflict with every address. Loopback addresses conflict with
    each other across families: a client of ``localhost`` may reach ::1 first and find the other program there.
    """
    bind = ipaddress.ip_address(bind_address)
    bind = bind.ipv4_mapped or bind if bind.version == 6 else bind
    if listen_address in _WILDCARDS or bind in _WILDCARDS or listen_address == bind:
        return True
    return listen_address.is_loopback and bind.is_loopback


def port_holder(bind_address, port):
    """None when nothing listens where bind_address:port would be published; else a description of the holder
    ("another program", with its name and pid where the OS tells)."""
    for address, holder in listeners(int(port), bind_address):
        if conflicts(address, bind_address):
            where = "[%s]" % address if address.version == 6 else str(address)
            return "another program (%s on %s:%s)" % (holder, where, port) if holder else \
                "another program (listening on %s:%s)" % (where, port)
    return None


def port_is_free(bind_address, port):
    """True when nothing listens on bind_address:port (TCP), whatever holds the port as a client's source port."""
    return port_holder(bind_address, port) is None


def ephemeral_range(path="/proc/sys/net/ipv4/ip_local_port_range"):
    """(first, last) of the machine's ephemeral (source) port range, or None when unknown."""
    try:
        with open(path) as handle:
            first, last = (int(v) for v in handle.read().split()[:2])
        return first, last
    except (IOError, OSError, ValueError):
        pass
    try:
        out = subprocess.run(["sysctl", "-n", "net.inet.ip.portrange.first", "net.inet.ip.portrange.last"],
                             capture_output=True, text=True, timeout=5).stdout.split()
        return int(out[0]), int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def ephemeral_warnings(components, check, port_range):
    """A warning (not a failure) per configured host port inside the ephemeral range."""
    if not port_range:
        return []
    first, last = port_range
    warnings, wanted = [], enabled_components(components)
    for name in check:
        for port_name, host, _container in published_ports(wanted.get(name)):
            if isinstance(host, int) and not isinstance(host, bool) and first <= host <= last:
                warnings.append(
                    "Host port %s for %s/%s lies in this machine's ephemeral port range (%d-%d), from which the "
                    "system picks the source ports of outgoing connections: while a connection holds it, Docker "
                    "cannot publish it and the container fails to start. A port below %d avoids that: set "
                    "%s.%s.ports.%s.host "
                    "(or a smaller devenv_host_port_offset)." % (
                        host, name, port_name, first, last, first, OVERRIDE_HINT, name, port_name))
    return warnings


def port_bind_address(spec, port_name, default):
    """The address a port is published on: its own bind_address, else devenv_bind_address (as given: a bad one
    fails the port probe, naming the variable); None when its own is not an IP (check_bind_addresses names it)."""
    own = (((spec or {}).get("ports") or {}).get(port_name) or {}).get("bind_address")
    if own in (None, ""):
        return default
    try:
        return str(ipaddress.ip_address(str(own)))
    except ValueError:
        return None


def check_ports(containers, components, check, default_bind, container_prefix, label_prefix, instance):
    """Every host port to publish is free, or already published by the same component's own container."""
    problems = []
    wanted = enabled_components(components)
    for name in check:
        spec = wanted.get(name)
        if spec is None:
            continue
        for port_name, host, _container in published_ports(spec):
            if not isinstance(host, int) or isinstance(host, bool) or not 1 <= host <= 65535:
                continue  # check_plan reports it, naming the variable and the range
            bind_address = port_bind_address(spec, port_name, default_bind)
            if bind_address is None:
                continue  # check_bind_addresses names it
            fix = "Free it, or publish this port elsewhere with %s.%s.ports.%s.host." % (OVERRIDE_HINT, name, port_name)
            owner = port_owner(containers, host, bind_address)
            if owner is not None:
                owner_name = _container_name(owner)
                if (is_ours(owner, label_prefix, instance) and owner_name == container_prefix + name) \
                        or _same_replicas(owner, name, components, label_prefix, instance):
                    continue  # its own container, or a replica the apps role removes before it starts this one
                problems.append("Host port %s:%s for %s/%s is published by container '%s'. %s" % (
                    bind_address, host, name, port_name, owner_name, fix))
                continue
            try:
                holder = port_holder(bind_address, host)
            except (OSError, ValueError) as exc:
                problems.append("Could not test host port %s:%s for %s/%s (%s). Check devenv_bind_address." % (
                    bind_address, host, name, port_name, getattr(exc, "strerror", None) or exc))
                continue
            if holder:
                problems.append("Host port %s:%s for %s/%s is already in use by %s. %s" % (
                    bind_address, host, name, port_name, holder, fix))
    return problems


def check_memory(components, mem_total_bytes, headroom_mb):
    wanted = enabled_components(components)
    # A bad estimate counts as 0 here: check_memory_estimates names it.
    need = sum(memory_estimate((spec or {}).get("memory_mb")) or 0 for spec in wanted.values())
    if not mem_total_bytes or not need:
        return [], need
    have = int(mem_total_bytes) // (1024 * 1024)
    if need + int(headroom_mb) > have:
        biggest = sorted(wanted.items(), key=lambda kv: -(memory_estimate((kv[1] or {}).get("memory_mb")) or 0))[:3]
        return ["The enabled components need about %d MiB plus %d MiB headroom, but the Docker engine has %d MiB. "
                "Give the engine more memory (Colima: colima stop && colima start --memory %d), or disable components "
                "with %s.<component>.enabled: false (largest: %s)." % (
                    need, int(headroom_mb), have, -(-(need + int(headroom_mb)) // 1024), OVERRIDE_HINT,
                    ", ".join("%s %s MiB" % (n, s.get("memory_mb")) for n, s in biggest))], need
    return [], need


# ---- input that the registry accepts but the run would trip over (issue 22) ---------------------------------

# A component's name is its container's name (after the prefix) and its DNS name on the network: one DNS label.
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")
_GLOB_CHARS = set("*?[]{}")
_SECRET_WORDS = ("password", "secret", "token", "key")


def _where(name, *fields):
    return ".".join((OVERRIDE_HINT, name, *fields))


def memory_estimate(value):
    """The memory_mb estimate as an int, or None when it is not a whole number of MiB (0 or more)."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    text = str(value).strip()
    return int(text) if text.isdigit() else None


def check_memory_estimates(components):
    return ["Component '%s' has memory_mb %r, not a whole number of MiB (0 or more). Set %s to its estimate, "
            "such as 256." % (name, spec.get("memory_mb"), _where(name, "memory_mb"))
            for name, spec in enabled_components(components).items()
            if memory_estimate((spec or {}).get("memory_mb")) is None]


def valid_name(name):
    return (isinstance(name, str) and 0 < len(name) <= 63 and set(name) <= _NAME_CHARS
            and not name.startswith("-") and not name.endswith("-"))


def check_names(components):
    return ["Component name %r cannot be a container name and a DNS name on the network. Rename %s: lower-case "
            "letters, digits and '-' inside, at most 63 characters (such as 'my-db')." % (name, _where(name))
            for name in sorted(components or {}) if not valid_name(name)]


def _depends_on(spec):
    return list((spec or {}).get("depends_on") or [])


def _cycle(components, start):
    """The first depends_on cycle reachable from start, as a list of names ending where it began, or None."""
    path, on_path, done = [], set(), set()

    def visit(name):
        if name in on_path:
            return [*path[path.index(name):], name]
        if name in done or name not in components:
            return None
        path.append(name)
        on_path.add(name)
        for dep in _depends_on(components[name]):
            found = visit(dep)
            if found:
                return found
        on_path.discard(path.pop())
        done.add(name)
        return None

    return visit(start)


def check_dependencies(components):
    """No depends_on cycle among the enabled components, and no enabled one depends on a disabled one."""
    problems, wanted, seen = [], enabled_components(components), set()
    for name in wanted:
        cycle = _cycle(wanted, name)
        if cycle and frozenset(cycle) not in seen:
            seen.add(frozenset(cycle))
            # Name the cycle from its smallest member, so that the message is the same whichever run finds it.
            first = cycle.index(min(cycle[:-1]))
            ordered = cycle[first:-1] + cycle[:first] + [cycle[first]]
            problems.append("The components depend on each other in a cycle: %s. Remove one of these from the "
                            "other's depends_on (%s.<component>.depends_on)." % (" -> ".join(ordered), OVERRIDE_HINT))
    for name, spec in wanted.items():
        for dep in _depends_on(spec):
            if dep in (components or {}) and dep not in wanted:
                problems.append("Component '%s' depends on '%s', which is disabled. Enable it (%s: true) or disable "
                                "'%s' (%s: false)."
                                % (name, dep, _where(dep, "enabled"), name, _where(name, "enabled")))
    return problems


def _vault_of(spec):
    vault = (spec or {}).get("vault")
    return vault if isinstance(vault, dict) else {}


def check_read_secrets(components):
    problems = []
    for name, spec in enabled_components(components).items():
        for entry in _vault_of(spec).get("read_secrets") or []:
            if not isinstance(entry, str) or not entry or set(entry) & _GLOB_CHARS:
                problems.append(
                    "%s has %r, a pattern: each entry must name one secret exactly (policies grant one path per "
                    "name). List the secrets by name." % (_where(name, "vault", "read_secrets"), entry))
    return problems


def _host_claims(components):
    """(host, component, field) for every edge host an enabled component claims, in plan order. The replicas of a
    component (replica_of) claim its host as that one component: one route, a server per replica."""
    for name, spec in enabled_components(components).items():
        name = (spec or {}).get("replica_of") or name
        web = (spec or {}).get("web") or {}
        if web.get("host"):
            yield str(web["host"]).lower().rstrip("."), name, "web.host"
        for host in ((spec or {}).get("edge") or {}).get("hosts") or []:
            yield str(host).lower().rstrip("."), name, "edge.hosts"


def check_edge_hosts(components):
    problems, claimed = [], {}
    for host, name, field in _host_claims(components):
        if claimed.get(host, (None,))[0] == name:
            continue  # another replica of the same component
        if host in claimed:
            other, other_field = claimed[host]
            problems.append("Edge host '%s' is claimed by %s (%s) and by %s (%s). Give one another name with %s." % (
                host, other, other_field, name, field, _where(name, *field.split("."))))
        else:
            claimed[host] = (name, field)
    return problems


def _is_secret_field(field, generate):
    return field in generate or any(word in str(field).lower() for word in _SECRET_WORDS)


def check_given_secrets(components):
    """A generated (or secret-looking) field given in the inventory must not be empty: an empty password is no
    password, and a run must not store it in Vault."""
    problems = []
    for name, spec in enabled_components(components).items():
        vault = _vault_of(spec)
        generate = list(vault.get("generate") or [])
        for field, value in sorted((vault.get("data") or {}).items()):
            if _is_secret_field(field, generate) and (value is None or (isinstance(value, str) and not value.strip())):
                problems.append("%s is empty. Remove it, so that a value is generated once and kept in Vault, or "
                                "give a non-empty value." % _where(name, "vault", "data", field))
    return problems


def check_bind_addresses(components):
    problems = []
    for name, spec in enabled_components(components).items():
        for port_name, port in sorted(((spec or {}).get("ports") or {}).items()):
            address = (port or {}).get("bind_address")
            if address in (None, ""):
                continue
            try:
                ipaddress.ip_address(str(address))
            except ValueError:
                problems.append(
                    "Component '%s' port '%s' has bind_address '%s', not an IP address. Fix %s (such as 127.0.0.1), or "
                    "remove it to use devenv_bind_address." % (
                        name, port_name, address, _where(name, "ports", port_name, "bind_address")))
    return problems


def check_input(components):
    """Every problem of the plan's own data that the registry lets through, in one list."""
    return (check_names(components) + check_memory_estimates(components) + check_dependencies(components)
            + check_read_secrets(components) + check_edge_hosts(components) + check_given_secrets(components)
            + check_bind_addresses(components))


# ---- what belongs to this instance on the host (issue 22, item 4) -------------------------------------------

# Written into Vault's directory by the first converge of an instance: a reset removes only a directory so marked
# for its instance, and a second instance is refused the directory of the first.
VAULT_MARKER = ".colima-services-instance"


def read_marker(directory):
    """The instance named by the marker file in directory, or None (no directory, no marker)."""
    try:
        with open(os.path.join(os.path.expanduser(str(directory)), VAULT_MARKER)) as handle:
            return handle.read().strip() or None
    except (IOError, OSError):
        return None


def _real(path):
    return os.path.realpath(os.path.expanduser(str(path)))


def _inside(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def vault_dir_problems(vault_dir, instance, marker):
    """Vault's directory is not marked for another instance (two instances must never share Vault's keys)."""
    if marker is None or marker == instance:
        return []
    return ["devenv_vault_dir %s holds the Vault keys of instance '%s' (its %s file says so), not of instance "
            "'%s'. Two instances must not share Vault's keys: set devenv_vault_dir to a directory of this instance's "
            "own (or "
            "leave it unset: instances other than default get <devenv_home>/vault)." % (
                vault_dir, marker, VAULT_MARKER, instance)]


def removal_problems(path, variable, user_home, allowed, strict_roots, instance=None, marker=False, needs_marker=False):
    """Why a reset must not remove path (empty: it may). Never /, the user's home or anything above it; only a
    path equal to one of `allowed` or strictly inside one of `strict_roots`; with needs_marker, only a directory
    whose marker names this instance. marker is what read_marker found (False: not read)."""
    real, home = _real(path), _real(user_home)
    if real == os.sep or _inside(home, real):
        return ["%s is %s, which is / or your home directory (or above it): a reset never removes that. Nothing was "
                "changed. Set %s to a directory of this instance's own." % (variable, path, variable)]
    if real not in [_real(p) for p in allowed] and not any(
            real != _real(root) and _inside(real, _real(root)) for root in strict_roots):
        return ["%s is %s, outside this instance's own directories (%s): a reset removes nothing there. Nothing was "
                "changed. Remove it by hand if it is this instance's, or run the reset without the option that "
                "removes it."
                % (variable, path, ", ".join(list(allowed) + ["inside " + r for r in strict_roots]))]
    if needs_marker and marker != instance:
        whose = ("was not marked by a converge of instance '%s' (no %s file)" % (instance, VAULT_MARKER)
                 if marker is None else "belongs to instance '%s' (its %s file says so)" % (marker, VAULT_MARKER))
        return ["%s %s %s: a reset removes only a directory it made. Nothing was changed. Remove it by hand if it is "
                "this instance's (a converge of this instance marks it)." % (variable, path, whose)]
    return []


def legacy_vault_warnings(vault_dir, instance, user_home):
    """For an instance other than default whose Vault directory (now its own by default) does not exist yet: the
    directory every instance shared before, if it is there and not marked for another instance, may hold its keys."""
    legacy = os.path.join(str(user_home), ".config", "vault")
    if instance == "default" or os.path.lexists(os.path.expanduser(str(vault_dir))) or not os.path.isdir(legacy):
        return []
    if read_marker(legacy) not in (None, instance):
        return []
    return ["devenv_vault_dir of instance '%s' is now %s (one per instance), which does not exist yet, while %s, "
            "the directory all instances shared before, does. If this instance's Vault was initialised with the keys "
            "there, set devenv_vault_dir: %s for it before the vault role runs; if not, ignore this." % (
                instance, vault_dir, legacy, legacy)]


# ---- Docker's dynamic range on our network (issue 22, item 13) ----------------------------------------------


def dynamic_range(subnet, ip_range=""):
    """The range Docker picks addresses from for containers that ask for none: ip_range when given, else the last
    eighth of the subnet (172.20.224.0/19 of 172.20.0.0/16, .224/27 of a /24): the registry's static addresses lie
    below it (.2 to .214, the apps' replicas from .100 up), in the design's /16 and in every /24 it is moved into.
    None when the subnet is too small or not valid (check_network_settings names it)."""
    if ip_range:
        return str(ip_range)
    try:
        network = ipaddress.ip_network(str(subnet), strict=True)
    except ValueError:
        return None
    if network.max_prefixlen - network.prefixlen < 3:
        return None
    eighth = network.num_addresses // 8
    return str(ipaddress.ip_network((int(network.network_address) + 7 * eighth, network.prefixlen + 3)))


def check_dynamic_range(components, network, ip_range):
    """The dynamic range is a valid part of the subnet, and no component's static address lies inside it."""
    if network is None or not ip_range:
        return []
    try:
        dynamic = ipaddress.ip_network(str(ip_range), strict=True)
    except ValueError as exc:
        return ["devenv_network_ip_range '%s' is not a valid network (%s). Use a CIDR range inside "
                "devenv_network_subnet %s, or leave it empty for its last eighth." % (ip_range, exc, network)]
    if dynamic.version != network.version or not dynamic.subnet_of(network):
        return ["devenv_network_ip_range %s is not inside devenv_network_subnet %s. Use a range inside it, or leave it "
                "empty for its last eighth." % (dynamic, network)]
    problems = []
    for name, spec in enabled_components(components).items():
        try:
            ip = ipaddress.ip_address(str((spec or {}).get("ip")))
        except ValueError:
            continue  # check_plan names it
        if ip in dynamic:
            problems.append(
                "Component '%s' has IP %s, inside Docker's dynamic range devenv_network_ip_range %s, where Docker "
                "gives addresses to containers started without one. Set %s.%s.ip to an address outside it, or move the "
                "range with devenv_network_ip_range." % (name, ip, dynamic, OVERRIDE_HINT, name))
    return problems


def network_range_warnings(networks, network_name, label_prefix, instance):
    """Our network, created before it had a dynamic range: its IPAM cannot change in place."""
    for net in networks or []:
        if net.get("Name") != network_name or not is_ours(net, label_prefix, instance):
            continue
        configs = (net.get("IPAM") or {}).get("Config") or []
        if configs and not any(cfg.get("IPRange") for cfg in configs):
            return ["Network '%s' has no dynamic range (it was created before this release): a container you start "
                    "with --network %s and no --ip can take an address of the registry, and the next converge cannot "
                    "start that component. Docker cannot add the range to an existing network: reset the instance "
                    "(playbooks/reset.yml, which keeps the volumes) and converge again to recreate the network with it."
                    % (network_name, network_name)]
    return []
