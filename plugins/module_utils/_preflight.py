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

import errno
import ipaddress
import socket

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
        return ["devenv_network_subnet '%s' is not a valid network (%s). Use CIDR form such as 172.20.0.0/16." % (subnet, exc)], None
    problems = []
    try:
        gw = ipaddress.ip_address(str(gateway))
    except ValueError:
        return ["devenv_network_gateway '%s' is not an IP address. Use an address inside %s, such as %s." % (
            gateway, network, next(network.hosts()))], network
    if gw not in network or gw in (network.network_address, network.broadcast_address):
        problems.append("devenv_network_gateway %s is not a usable address of devenv_network_subnet %s. Use one such as %s." % (
            gw, network, next(network.hosts())))
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
                problems.append("Component '%s' has IP '%s', which is not an IP address. Fix %s.ip." % (name, raw_ip, where))
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
                problems.append("Component '%s' publishes host port '%s', not a port number (1-65535). Fix %s.host." % (name, host, label))
                continue
            if not isinstance(container, int) or isinstance(container, bool) or not 1 <= container <= 65535:
                problems.append("Component '%s' port '%s' has container port '%s', not a port number. Fix %s.container." % (
                    name, port_name, container, label))
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
                    "A Docker network named '%s' exists but was not created by colima_services.devenv (no ownership label). "
                    "Remove it (docker network rm %s) after stopping its containers, or choose another devenv_network_name."
                    % (name, name))
            elif subnets and network not in subnets:
                problems.append(
                    "Our network '%s' exists with subnet %s, not devenv_network_subnet %s. Changing the subnet needs the network "
                    "recreated: remove the dev containers and the network, or set devenv_network_subnet back to %s."
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
                "Remove it (docker rm -f %s) or set devenv_container_prefix to another prefix." % (cname, instance, cname))
        for other in containers or []:
            other_name = _container_name(other)
            if other_name == cname:
                continue
            nets = ((other.get("NetworkSettings") or {}).get("Networks") or {})
            addr = (nets.get(network_name) or {}).get("IPAddress")
            if addr and spec.get("ip") and addr == str(spec.get("ip")):
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


def port_is_free(bind_address, port):
    """True when nothing listens on bind_address:port (TCP)."""
    family = socket.AF_INET6 if ":" in str(bind_address) else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # SO_REUSEADDR ignores sockets in TIME_WAIT but not listeners.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((str(bind_address), int(port)))
        return True
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        raise
    finally:
        sock.close()


def check_ports(containers, components, check, bind_address, container_prefix, label_prefix, instance):
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
            fix = "Free it, or publish this port elsewhere with %s.%s.ports.%s.host." % (OVERRIDE_HINT, name, port_name)
            owner = port_owner(containers, host, bind_address)
            if owner is not None:
                owner_name = _container_name(owner)
                if is_ours(owner, label_prefix, instance) and owner_name == container_prefix + name:
                    continue
                problems.append("Host port %s:%s for %s/%s is published by container '%s'. %s" % (
                    bind_address, host, name, port_name, owner_name, fix))
                continue
            try:
                free = port_is_free(bind_address, host)
            except OSError as exc:
                problems.append("Could not test host port %s:%s for %s/%s (%s). Check devenv_bind_address." % (
                    bind_address, host, name, port_name, exc.strerror or exc))
                continue
            if not free:
                problems.append("Host port %s:%s for %s/%s is already in use by another program. %s" % (
                    bind_address, host, name, port_name, fix))
    return problems


def check_memory(components, mem_total_bytes, headroom_mb):
    wanted = enabled_components(components)
    need = sum(int((spec or {}).get("memory_mb") or 0) for spec in wanted.values())
    if not mem_total_bytes or not need:
        return [], need
    have = int(mem_total_bytes) // (1024 * 1024)
    if need + int(headroom_mb) > have:
        biggest = sorted(wanted.items(), key=lambda kv: -int((kv[1] or {}).get("memory_mb") or 0))[:3]
        return ["The enabled components need about %d MiB plus %d MiB headroom, but the Docker engine has %d MiB. "
                "Give the engine more memory (Colima: colima stop && colima start --memory %d), or disable components "
                "with %s.<component>.enabled: false (largest: %s)." % (
                    need, int(headroom_mb), have, -(-(need + int(headroom_mb)) // 1024), OVERRIDE_HINT,
                    ", ".join("%s %s MiB" % (n, s.get("memory_mb")) for n, s in biggest))], need
    return [], need
