"""The compat stage (scripts/test.sh) runs only the tests marked `playbook` against community.docker 5.x.
That is sound only while every test that starts ansible-playbook carries the mark: this test keeps it so."""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STARTS_A_PLAYBOOK = re.compile(r"""sys\.executable\), ["']ansible-playbook["']""")  # the venv's own ansible-playbook
MARKED = re.compile(r"^pytestmark = pytest\.mark\.playbook\b", re.M)


def test_every_test_file_that_starts_ansible_playbook_is_marked_playbook():
    starting, unmarked = [], []
    for top, _dirs, files in os.walk(os.path.join(ROOT, "tests")):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(top, name)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if STARTS_A_PLAYBOOK.search(text):
                starting.append(path)
                if not MARKED.search(text):
                    unmarked.append(os.path.relpath(path, ROOT))
    assert len(starting) >= 3, starting  # the pattern still finds the known ones
    assert not unmarked, "add `pytestmark = pytest.mark.playbook` to: %s" % ", ".join(unmarked)
