"""Make the checkout importable as ansible_collections.colima_services.devenv."""

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "collections"))


class ModuleExit(Exception):
    """Raised instead of sys.exit by a module run in-process; carries the parsed result."""

    def __init__(self, result):
        super().__init__(result.get("msg", ""))
        self.result = result


@pytest.fixture
def run_module(capsys):
    """Run a module's main() with the given args; return (failed, result)."""
    from ansible.module_utils.testing import patch_module_args

    def _run(main, args):
        with patch_module_args(args):
            with pytest.raises(SystemExit) as exc:
                main()
        out = capsys.readouterr().out
        result = json.loads(out)
        return exc.value.code != 0 or result.get("failed", False), result

    return _run
