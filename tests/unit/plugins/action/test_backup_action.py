"""plugins/action/backup.py: backup directory names, retention; module_utils/_backup.py's naming rules."""

import os

from ansible_collections.colima_services.devenv.plugins.action import backup as action
from ansible_collections.colima_services.devenv.plugins.module_utils import _backup as bk

STAMP = "20250102T120000Z"


def test_two_backups_in_the_same_second_get_two_names(tmp_path):
    first, part1 = action.claim(str(tmp_path / "b"), STAMP)
    second, part2 = action.claim(str(tmp_path / "b"), STAMP)  # the first is still being written (.part)
    assert (first, second) == (STAMP, STAMP + "-2")
    assert sorted(os.listdir(str(tmp_path / "b"))) == [".%s-2.part" % STAMP, ".%s.part" % STAMP]
    os.rename(part1, str(tmp_path / "b" / first))
    third, _part3 = action.claim(str(tmp_path / "b"), STAMP)
    assert third == STAMP + "-3"
    assert oct(os.stat(part2).st_mode & 0o777) == "0o700"


def test_retention_keeps_the_newest_complete_backups(tmp_path):
    names = ["20250101T000000Z", "20250102T000000Z", "20250102T000000Z-2", "20250102T000000Z-10", "20250103T000000Z"]
    for name in [*names, "unrelated"]:
        os.makedirs(str(tmp_path / name))
        (tmp_path / name / bk.MANIFEST).write_text("{}")
    os.makedirs(str(tmp_path / "20241231T000000Z"))  # no manifest: not a complete backup, never counted or removed
    os.makedirs(str(tmp_path / ".20250104T000000Z.part"))
    assert action.prune(str(tmp_path), 0, names[-1]) == []
    assert sorted(action.prune(str(tmp_path), 2, names[-1])) == ["20250101T000000Z", "20250102T000000Z",
                                                                 "20250102T000000Z-2"]
    assert sorted(os.listdir(str(tmp_path))) == [".20250104T000000Z.part", "20241231T000000Z", "20250102T000000Z-10",
                                                 "20250103T000000Z", "unrelated"]


def test_names_and_order_of_expiry():
    assert list(zip(range(3), bk.backup_names(STAMP, {STAMP, ".%s-2.part" % STAMP}), strict=False)) == [
        (0, STAMP + "-3"), (1, STAMP + "-4"), (2, STAMP + "-5")]
    assert bk.expired(["20250102T000000Z-2", "20250102T000000Z", "x"], 1) == ["20250102T000000Z"]
    assert bk.expired(["20250102T000000Z"], 1) == [] and bk.expired(["20250102T000000Z"], 0) == []
