"""How clients reach a service, as data keyed by the registry's port names (not by component): the URL scheme and
its TLS parameters, and the client a shell opens inside the container. A port name missing here gets no URL."""

from urllib.parse import quote

# scheme, path (from the secret's fields), TLS query ({ca}: the root CA file), the user field and password field.
URLS = {
    "postgres": {"scheme": "postgresql", "path": "/{database}", "query": "sslmode=verify-full&sslrootcert={ca}"},
    "pgbouncer": {"scheme": "postgresql", "path": "/{database}", "query": "sslmode=verify-full&sslrootcert={ca}"},
    "mysql": {"scheme": "mysql", "path": "/{database}", "query": "ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"},
    "mongodb": {"scheme": "mongodb", "path": "/{database}", "query": "tls=true&tlsCAFile={ca}&authSource=admin"},
    "amqps": {"scheme": "amqps", "path": "/{vhost}", "query": "cacertfile={ca}&verify=verify_peer"},
    "tls": {"scheme": "rediss", "path": "", "query": "ssl_ca_certs={ca}", "user": None},
    "api": {"scheme": "http", "path": "", "query": "", "user": None, "password": None},
}

def _shells():
    """The client inside the container (argv; "$@" gets the user's arguments). Credentials never go on argv: each
    client reads them inside the container (socket auth, the role's 0600 option file, the node's own config), in the
    directory that the exec's environment names (shell_env), as the backup's commands do."""
    from ansible_collections.colima_services.devenv.plugins.module_utils import _backup as bk

    return {
        "postgres": ["sh", "-c", 'exec psql -U "$0" "$@"', "{username}", "{database}"],
        "mysql": ["sh", "-c", "exec " + bk.mysql_client() + ' "$@"', "sh"],
        "tls": ["sh", "-c", bk.REDIS_AUTH + 'exec redis-cli -c -p 6379 "$@"', "sh"],
        "mongodb": ["sh", "-c", 'command -v mongosh >/dev/null || { echo "this image has no mongosh '
                    '(the local recipe): connect from the host with the URL of devenv creds $0" >&2; exit 127; }; '
                    'exec mongosh --quiet "$@"', "{component}"],
        "api": ["sh", "-c", 'export BAO_ADDR=http://127.0.0.1:8200 VAULT_ADDR=http://127.0.0.1:8200; '
                'if [ $# -gt 0 ]; then exec "$(command -v bao || command -v vault)" "$@"; fi; '
                'echo "bao/vault CLI: log in with the token of devenv creds vault (bao login)" >&2; exec sh', "sh"],
    }


def _fill(text, fields):
    return text.format(**dict((k, quote(str(v), safe="")) for k, v in fields.items()))


def url(port_name, host, port, secret, ca):
    """The connection URL for a port (credentials from the secret, URL-quoted), or None."""
    spec = URLS.get(port_name)
    if spec is None:
        return None
    fields = dict((k, v) for k, v in (secret or {}).items() if isinstance(v, (str, int)))
    fields.setdefault("database", "")
    fields.setdefault("vhost", "")
    user = fields.get(spec.get("user", "username"), "") if spec.get("user", "username") else ""
    password = fields.get(spec.get("password", "password"), "") if spec.get("password", "password") else ""
    auth = ""
    if user or password:
        auth = "%s%s@" % (quote(str(user), safe=""), ":" + quote(str(password), safe="") if password else "")
    query = spec["query"].format(ca=quote(ca, safe="/")) if spec["query"] else ""
    return "%s://%s%s:%s%s%s" % (spec["scheme"], auth, host, port, _fill(spec["path"], fields),
                                 "?" + query if query else "")


def shell_env(settings):
    """docker exec's -e options for shell_argv: where the roles put the container's files."""
    from ansible_collections.colima_services.devenv.plugins.module_utils import _backup as bk

    return ["-e", "%s=%s" % next(iter(bk.conf_env(settings).items()))]


def shell_argv(ports, fields):
    """The client argv for a component (the first of its port names that has one), else a plain shell."""
    shells = _shells()
    for name in sorted(ports):
        if name in shells:
            script = shells[name]
            return script[:3] + [arg.format(**fields) for arg in script[3:]]
    return ["sh"]
