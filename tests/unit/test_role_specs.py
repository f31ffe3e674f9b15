"""Every role's meta/argument_specs.yml documents exactly the variables of its defaults/main.yml, with the same
defaults (templated defaults, which the spec can only describe, excepted). The internal devenv role is not used
directly (its entry points have their own specs)."""

import glob
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(ROOT, "roles", "*", "defaults")))


def _load(*parts):
    with open(os.path.join(ROOT, "roles", *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


@pytest.mark.parametrize("role", [r for r in ROLES if r != "devenv"])
def test_argument_specs_match_defaults(role):
    defaults = _load(role, "defaults", "main.yml")
    options = _load(role, "meta", "argument_specs.yml")["argument_specs"]["main"].get("options", {})
    assert sorted(options) == sorted(defaults)
    for name, value in defaults.items():
        if isinstance(value, str) and "{{" in value:
            continue
        assert options[name].get("default") == value, name
