#!/usr/bin/env python3
"""Test-only probe of the observability scenario, for containers created but never started (Grafana, Loki, Alloy:
their binaries cannot run here). Prints one JSON object.

  static_probe.py files CONTAINER DIR OUT   copy DIR out of the container into OUT; each file's mode, owner and sha256
  static_probe.py ini FILE                  parse an ini file (Grafana's): {section: {key: value}}
  static_probe.py alloy FILE                parse an Alloy configuration: its blocks, attributes and references

The Alloy parser is written for this test (Alloy's syntax: blocks `a.b "label" { }`, attributes `k = v`, strings,
numbers, booleans, null, lists, objects, references `a.b.c`; // and /* */ comments). It fails on anything else,
so it checks the syntax the template produces, not Alloy's component schemas (Alloy itself cannot run here).
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "_shared"))
from static_common import files, ini  # the shared helpers' directory first

TOKEN = re.compile(r"""
    (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[{}\[\](),.=:])
""", re.X | re.S)


class AlloyParser:
    def __init__(self, text):
        self.tokens, pos = [], 0
        while pos < len(text):
            m = TOKEN.match(text, pos)
            if not m:
                raise ValueError("unexpected character at %d: %r" % (pos, text[pos:pos + 20]))
            if m.lastgroup != "ws":
                self.tokens.append((m.lastgroup, m.group(), pos))
            pos = m.end()
        self.i = 0
        self.refs = []

    def peek(self, offset=0):
        return self.tokens[self.i + offset] if self.i + offset < len(self.tokens) else (None, None, -1)

    def take(self, kind=None, value=None):
        tok = self.peek()
        if tok[0] is None or (kind and tok[0] != kind) or (value and tok[1] != value):
            raise ValueError("expected %s at %d, found %r" % (value or kind, tok[2], tok[1]))
        self.i += 1
        return tok[1]

    def name(self):
        parts = [self.take("ident")]
        while self.peek()[1] == ".":
            self.take(value=".")
            parts.append(self.take("ident"))
        return ".".join(parts)

    def body(self, end):
        attrs, blocks = {}, []
        while self.peek()[1] != end:
            if end is None and self.peek()[0] is None:
                break
            name = self.name()
            if self.peek()[1] == "=" and "." not in name:
                self.take(value="=")
                if name in attrs:
                    raise ValueError("attribute %s set twice" % name)
                attrs[name] = self.expr()
            else:
                label = json.loads(self.take("string")) if self.peek()[0] == "string" else None
                self.take(value="{")
                inner_attrs, inner_blocks = self.body("}")
                self.take(value="}")
                blocks.append({"name": name, "label": label, "attrs": inner_attrs, "blocks": inner_blocks})
        return attrs, blocks

    def sequence(self, opening, closing, item):
        """OPENING item, item, ... CLOSING (a trailing comma allowed); the items."""
        self.take(value=opening)
        items = []
        while self.peek()[1] != closing:
            items.append(item())
            if self.peek()[1] != closing:
                self.take(value=",")
        self.take(value=closing)
        return items

    def field(self):
        """key = value inside an object; the key a string or an identifier."""
        key = json.loads(self.take("string")) if self.peek()[0] == "string" else self.take("ident")
        self.take(value="=")
        return key, self.expr()

    def expr(self):
        kind, value, _ = self.peek()
        if kind == "string":
            self.i += 1
            return json.loads(value)
        if kind == "number":
            self.i += 1
            return float(value) if "." in value else int(value)
        if value == "[":
            return self.sequence("[", "]", self.expr)
        if value == "{":
            return dict(self.sequence("{", "}", self.field))
        if kind == "ident":
            name = self.name()
            if name in ("true", "false"):
                return name == "true"
            if name == "null":
                return None
            if self.peek()[1] == "(":
                return {"call": name, "args": self.sequence("(", ")", self.expr)}
            self.refs.append(name)
            return {"ref": name}
        raise ValueError("expected a value at %d, found %r" % (self.peek()[2], value))

    def parse(self):
        attrs, blocks = self.body(None)
        if attrs:
            raise ValueError("top-level attributes are not Alloy: %s" % sorted(attrs))
        return blocks


def alloy(path):
    with open(path) as handle:
        parser = AlloyParser(handle.read())
    blocks = parser.parse()
    components = {"%s.%s" % (b["name"], b["label"]): b for b in blocks}
    # A reference names a component (a.b.label) and one of its exports.
    dangling = [r for r in parser.refs if not any(r.startswith(c + ".") for c in components)]
    return {"components": components, "refs": sorted(set(parser.refs)), "dangling_refs": dangling}


def main(argv):
    if argv[0] == "files":
        result = files(*argv[1:4], digest=True)
    elif argv[0] == "ini":
        result = ini(argv[1])
    elif argv[0] == "alloy":
        try:
            result = alloy(argv[1])
        except ValueError as exc:
            print(json.dumps({"error": str(exc)}))
            return 1
    else:
        print(__doc__)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
