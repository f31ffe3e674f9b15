"""plugins/action/status.py: what it reads from Vault (a real OpenBao server) and from the registry's markers."""

import urllib.request

from ansible_collections.colima_services.devenv.plugins.action import status


def _action():
    return status.ActionModule.__new__(status.ActionModule)


def test_vault_health_through_the_one_vault_client(bao):
    # Not initialised: reported as sealed (it cannot serve), with its version.
    health = _action()._vault(bao.url)
    assert health["sealed"] is True and health["version"]
    request = urllib.request.Request(bao.url + "/v1/sys/init", method="PUT",
                                     data=b'{"secret_shares": 1, "secret_threshold": 1}')
    init = __import__("json").loads(urllib.request.urlopen(request, timeout=10).read())
    assert _action()._vault(bao.url)["sealed"] is True
    request = urllib.request.Request(bao.url + "/v1/sys/unseal", method="PUT",
                                     data=('{"key": "%s"}' % init["keys_base64"][0]).encode())
    urllib.request.urlopen(request, timeout=10).read()
    assert _action()._vault(bao.url) == {"sealed": False, "version": health["version"]}


def test_vault_that_does_not_answer_is_an_error_not_a_hang(tmp_path):
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    health = _action()._vault("http://127.0.0.1:%d" % port)
    assert set(health) == {"error"} and "127.0.0.1:%d" % port in health["error"]


def _tls_edge(tmp_path):
    """A real TLS server on loopback standing in for the edge: a CA-signed certificate for *.localhost names, and
    502 for vault.localhost (no server behind the route), 401 for the rest. Returns (port, CA file, stop)."""
    import datetime
    import socket
    import ssl
    import threading

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test root")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    names = [x509.DNSName(n) for n in ("vault.localhost", "rabbitmq.localhost")]
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edge")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False).sign(ca_key, hashes.SHA256()))
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "edge.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tmp_path / "edge.pem"))
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _addr = listener.accept()
            except OSError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    request = tls.recv(4096).decode("latin-1")
                    code = 502 if "Host: vault.localhost" in request else 401
                    tls.sendall(b"HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % code)
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def close():
        stop.set()
        thread.join(5)
        listener.close()

    return listener.getsockname()[1], str(tmp_path / "ca.pem"), close


def test_reach_connects_to_ports_and_asks_the_edge_as_the_browser_would(tmp_path):
    import socket

    port, ca_file, close = _tls_edge(tmp_path)
    try:
        assert status.reach(("port", "edge", "127.0.0.1", port), ca_file) is True
        assert status.reach(("route", "vault.localhost", "127.0.0.1", port, "/"), ca_file) == 502
        assert status.reach(("route", "rabbitmq.localhost", "127.0.0.1", port, "/"), ca_file) == 401
        # A name the edge's certificate does not carry fails verification, as in the browser.
        assert "certificate" in str(status.reach(("route", "grafana.localhost", "127.0.0.1", port, "/"), ca_file))
        # Without the exported CA the route is still asked.
        assert status.reach(("route", "vault.localhost", "127.0.0.1", port, "/"), None) == 502
    finally:
        close()
    closed = socket.create_server(("127.0.0.1", 0))
    free = closed.getsockname()[1]
    closed.close()
    assert "refused" in str(status.reach(("port", "postgres", "127.0.0.1", free), ca_file)).lower()
