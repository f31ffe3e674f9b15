"""The documentation: a short README, links that resolve, and one version everywhere."""

import glob
import os
import re

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
README = os.path.join(ROOT, "README.md")
README_LIMIT = 15360
VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def _docs():
    return sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))


def _prose(text):
    """The lines outside fenced code blocks, with inline code spans removed."""
    lines, fence = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if not fence:
            lines.append(re.sub(r"`[^`]*`", "", line))
    return lines


def anchor(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(text):
    """Every heading's anchor in a Markdown text (a repeated heading gets -1, -2, ... as on GitHub)."""
    seen, out = {}, set()
    fence = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        match = None if fence else re.match(r"^#{1,6} +(.*?) *#*$", line)
        if match:
            base = anchor(match.group(1))
            out.add(base if base not in seen else "%s-%d" % (base, seen[base]))
            seen[base] = seen.get(base, 0) + 1
    return out


def links(path):
    """(target file, fragment) of every relative link in a Markdown file."""
    out = []
    for line in _prose(_read(path)):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
                continue
            file, _, fragment = target.partition("#")
            out.append((os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path, fragment))
    return out


def test_anchor_follows_github():
    assert anchor("Edge: HTTPS on *.localhost") == "edge-https-on-localhost"
    assert anchor("Reading a service's credentials") == "reading-a-services-credentials"
    assert anchor("Grafana and logs (Loki, Alloy)") == "grafana-and-logs-loki-alloy"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}


def test_readme_is_a_front_page():
    size = os.path.getsize(README)
    assert size <= README_LIMIT, "README.md is %d bytes; keep it <= %d and move reference text into docs/" % (
        size, README_LIMIT)


@pytest.mark.parametrize("path", [README, *_docs()], ids=lambda p: os.path.relpath(p, ROOT))
def test_relative_links_resolve(path):
    broken = []
    for file, fragment in links(path):
        if not os.path.exists(file):
            broken.append("%s (no such file)" % os.path.relpath(file, ROOT))
        elif fragment and (not file.endswith(".md") or fragment not in anchors(_read(file))):
            broken.append("%s#%s (no such heading)" % (os.path.relpath(file, ROOT), fragment))
    assert not broken, "%s links to %s" % (os.path.relpath(path, ROOT), ", ".join(broken))


def test_readme_links_every_docs_file():
    linked = set(file for file, _ in links(README))
    missing = [os.path.relpath(p, ROOT) for p in _docs() if p not in linked]
    assert not missing, "README.md's 'Where to read more' does not link %s" % ", ".join(missing)


def _galaxy_version():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as f:
        return str(yaml.safe_load(f)["version"])


def test_one_version_in_galaxy_changelog_and_readme():
    version = _galaxy_version()
    assert VERSION.match(version), "galaxy.yml version %r is not X.Y.Z" % version
    releases = re.findall(r"^## (\d+\.\d+\.\d+)\b", _read(os.path.join(ROOT, "CHANGELOG.md")), re.M)
    assert releases and releases[0] == version, (
        "CHANGELOG.md's top release heading is %s, galaxy.yml says %s" % (releases[:1], version))
    assert len(releases) == len(set(releases)), "CHANGELOG.md has a release twice: %s" % releases
    readme = re.findall(r"\*\*Status \((\d+\.\d+\.\d+)", _read(README))
    assert readme == [version], "README.md's status names %s, galaxy.yml says %s" % (readme, version)


def test_no_module_is_newer_than_the_collection():
    version = tuple(int(p) for p in VERSION.match(_galaxy_version()).groups())
    paths = glob.glob(os.path.join(ROOT, "plugins", "*", "*.py"))
    added = {}
    for path in paths:
        match = re.search(r"^version_added: *['\"]?(\d+\.\d+\.\d+)", _read(path), re.M)
        if match:
            added[os.path.relpath(path, ROOT)] = match.group(1)
    assert added, "no version_added found in plugins/"
    newer = ["%s (%s)" % (p, v) for p, v in sorted(added.items())
             if tuple(int(x) for x in v.split(".")) > version]
    assert not newer, "version_added newer than galaxy.yml's version: %s" % ", ".join(newer)
