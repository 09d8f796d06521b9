#!/usr/bin/env python3
"""Every relative link in the project's Markdown resolves: the file (or folder) exists and, when the link
names a heading (#anchor), that heading exists in the file, with GitHub's anchor rules.

Usage: tests/docs/links_test.py SOURCE_DIR [FILE.md ...]
Without files it checks README.md, ARCHITECTURE.md, SECURITY.md and the .md files in docs/, bench/ and
scripts/. Exit 0 when every link resolves, 1 with one line per broken link, 2 on bad usage. Links to other sites (http:, https:, mailto:)
are not followed. Links inside code (``` blocks, `spans`) are not links and are skipped.
"""
import re
import sys
from pathlib import Path

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# [label](target) or [label](target "title"); images too. Labels may not span lines (keep them on one).
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def slug(text):
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link's label only
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def prose_lines(path):
    """(line number, text) of the lines outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


_anchors = {}


def anchors(path):
    if path not in _anchors:
        seen = {}
        found = set()
        for _, line in prose_lines(path):
            m = HEADING.match(line)
            if not m:
                continue
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
        for _, line in prose_lines(path):  # explicit anchors: <a id="x"> / <a name="x">
            found.update(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", line))
        _anchors[path] = found
    return _anchors[path]


def check(source, md):
    broken = []
    for number, line in prose_lines(md):
        targets = [m.group(1) for m in LINK.finditer(CODE_SPAN.sub("", line))]
        m = REFDEF.match(line)
        if m:
            targets.append(m.group(1))
        for target in targets:
            where = f"{md.relative_to(source)}:{number}: {target}"
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                continue  # another site
            file_part, _, anchor = target.partition("#")
            dest = md if not file_part else (md.parent / file_part).resolve()
            if not file_part and not anchor:
                broken.append(f"{where}: empty link")
                continue
            if not dest.exists():
                broken.append(f"{where}: no such file {dest}")
                continue
            try:
                dest.relative_to(source)
            except ValueError:
                broken.append(f"{where}: points outside the source tree")
                continue
            if anchor:
                if dest.is_dir() or dest.suffix != ".md":
                    broken.append(f"{where}: an anchor into a file that is not Markdown")
                elif anchor not in anchors(dest):
                    broken.append(f"{where}: {dest.relative_to(source)} has no heading #{anchor}")
    return broken


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    source = Path(argv[1]).resolve()
    if len(argv) > 2:
        files = [Path(f).resolve() for f in argv[2:]]
    else:
        files = [source / f for f in ("README.md", "ARCHITECTURE.md", "SECURITY.md")]
        for folder in ("docs", "bench", "scripts"):
            files += sorted((source / folder).glob("*.md"))
    missing = [f for f in files if not f.is_file()]
    if missing:
        print("no such file: " + ", ".join(map(str, missing)), file=sys.stderr)
        return 2
    broken = []
    links = 0
    for md in files:
        broken += check(source, md)
        links += sum(len(LINK.findall(CODE_SPAN.sub("", line))) for _, line in prose_lines(md))
    for b in broken:
        print("BROKEN " + b)
    if broken:
        return 1
    print(f"{links} links in {len(files)} files resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
