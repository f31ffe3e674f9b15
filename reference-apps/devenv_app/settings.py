"""The app's settings: one JSON file (APP_CONFIG) the reference_apps role renders from the registry. No secret in it:
passwords come from Vault at run time, read with the app's own AppRole (role_id and secret_id in a 0600 file)."""

import json
import os
from dataclasses import dataclass, field


@dataclass
class Settings:
    name: str
    description: str
    vault_url: str
    approle_file: str
    ca_file: str
    cert_file: str
    key_file: str
    replica: str = ""
    http_port: int = 8000
    https_port: int = 8443
    timeout: float = 2.0
    drain_seconds: float = 3.0
    log_level: str = "info"
    links: dict = field(default_factory=dict)
    # kind -> {host, port, secret, tls} (redis: nodes [{name, host, port}]); only the services the app uses.
    services: dict = field(default_factory=dict)


def load(path=None):
    path = path or os.environ.get("APP_CONFIG", "/usr/local/etc/reference-api/app.json")
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    known = set(Settings.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError("%s: unknown setting(s) %s" % (path, ", ".join(unknown)))
    return Settings(**data)
