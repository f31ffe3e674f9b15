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
