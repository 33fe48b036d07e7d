#!/usr/bin/env python3
"""Embeds deploy/gate.asl.json in deploy/group.yaml as the gate's DefinitionString.

    python3 deploy/embed-gate.py           rewrite group.yaml's copy
    python3 deploy/embed-gate.py --check   exit 1 if the copy differs

The copy is a YAML literal block scalar between the marker comments
"# BEGIN deploy/gate.asl.json" and "# END deploy/gate.asl.json", so the
template's DefinitionString is gate.asl.json byte for byte. Standard library
only; running it twice changes nothing.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys

DEPLOY = pathlib.Path(__file__).resolve().parent
GATE = DEPLOY / "gate.asl.json"
TEMPLATE = DEPLOY / "group.yaml"
BEGIN = "# BEGIN deploy/gate.asl.json"
END = "# END deploy/gate.asl.json"
KEY = "DefinitionString"
# What a line of a YAML block scalar can carry: printable characters and
# tabs (c-printable), but none of the characters YAML 1.1 parsers (PyYAML)
# take for line breaks (NEL, LS, PS), nor a byte-order mark.
UNPRINTABLE = re.compile("[^\t\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")


def fail(message: str, code: int = 2) -> None:
    print(f"embed-gate: {message}", file=sys.stderr)
    sys.exit(code)


def block(definition: str, indent: str) -> list[str]:
    """`DefinitionString: |...` and its lines, at `indent`."""
    body = definition.rstrip("\n")
    trailing = len(definition) - len(body)
    # Chomping: none kept (-), exactly one (clip), or all (+).
    chomp = "-" if trailing == 0 else ("" if trailing == 1 and body else "+")
    lines = body.split("\n") if body else []
    for number, line in enumerate(lines, 1):
        bad = UNPRINTABLE.search(line)
        if bad:
            fail(f"{GATE.name} line {number} has {bad.group()!r}, which a YAML block scalar cannot hold")
    content = indent + "  "
    # A first line that starts with blanks (or blank lines before it) would
    # be taken for indentation: then say how deep it is (relative to the key).
    leading = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    ambiguous = any(lines[:leading]) or (leading < len(lines) and lines[leading][:1] in (" ", "\t"))
    width = "2" if ambiguous else ""
    out = [f"{indent}{KEY}: |{width}{chomp}"]
    # Empty lines stay empty; anything else is indented (whitespace-only
    # lines included, so their spaces survive).
    out += [content + line if line else "" for line in lines]
    out += [""] * (max(trailing - 1, 0) if body else trailing)
    return out


def embed(template: str, definition: str) -> str:
    lines = template.split("\n")
    begins = [i for i, line in enumerate(lines) if line.strip().startswith(BEGIN)]
    ends = [i for i, line in enumerate(lines) if line.strip().startswith(END)]
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        fail(f"{TEMPLATE.name} needs exactly one '{BEGIN}' line followed by one '{END}' line")
    start, stop = begins[0], ends[0]
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    if lines[stop][: len(lines[stop]) - len(lines[stop].lstrip())] != indent:
        fail(f"the '{BEGIN}' and '{END}' lines of {TEMPLATE.name} must be indented alike (as {KEY})")
    return "\n".join(lines[: start + 1] + block(definition, indent) + lines[stop:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if group.yaml's copy differs")
    args = parser.parse_args()
    try:
        definition = GATE.read_bytes().decode("utf-8")
        template = TEMPLATE.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        fail(str(e))
    if definition.startswith("\ufeff") or "\r" in definition:
        fail(f"{GATE.name} must be UTF-8 without a byte-order mark, with \\n line ends")
    wanted = embed(template, definition)
    if wanted == template:
        return
    if args.check:
        fail(
            f"the gate embedded in {TEMPLATE.relative_to(DEPLOY.parent)} differs from "
            f"{GATE.relative_to(DEPLOY.parent)}: run python3 deploy/embed-gate.py",
            1,
        )
    TEMPLATE.write_bytes(wanted.encode("utf-8"))
    print(f"embed-gate: wrote {GATE.name} into {TEMPLATE.name}", file=sys.stderr)


if __name__ == "__main__":
    main()
