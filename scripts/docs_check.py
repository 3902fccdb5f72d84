#!/usr/bin/env python3
"""Checks the relative links of README.md and docs/*.md: every linked file
exists, and every #anchor names a heading of its page (as GitHub makes
anchors from headings). Links to other sites are not fetched. Prints each
broken link with its place and exits 1 if there is any."""

import os
import re
import sys
import unicodedata

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
SRC = re.compile(r"<(?:img|a)\s[^>]*(?:src|href)=\"([^\"]+)\"")
FENCE = re.compile(r"^\s*(```|~~~)")


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped (but
    hyphens and underscores), spaces to hyphens."""
    text = re.sub(r"`|\*\*|\*|<[^>]+>", "", heading.strip()).lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    out = []
    for ch in text:
        if ch in "-_ " or ch.isalnum():
            out.append("-" if ch == " " else ch)
        elif unicodedata.category(ch).startswith("L") or unicodedata.category(ch).startswith("N"):
            out.append(ch)
    return "".join(out)


def prose_lines(text):
    """The lines outside fenced code blocks, with their numbers."""
    fenced = False
    for n, line in enumerate(text.split("\n"), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield n, line


def anchors(path):
    seen = {}
    out = set()
    with open(path, encoding="utf-8") as f:
        for _, line in prose_lines(f.read()):
            m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
            if not m:
                continue
            base = slug(m.group(2))
            k = seen.get(base, 0)
            seen[base] = k + 1
            out.add(base if k == 0 else f"{base}-{k}")
    return out


def check(root, pages):
    problems = []
    for page in pages:
        path = os.path.join(root, page)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for n, line in prose_lines(text):
            line = re.sub(r"`[^`]*`", "", line)
            for target in LINK.findall(line) + SRC.findall(line):
                if re.match(r"^[a-z]+:", target):
                    continue
                file, _, anchor = target.partition("#")
                dest = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
                where = f"{page}:{n}: {target}"
                if not os.path.exists(dest):
                    problems.append(f"{where}: no such file")
                    continue
                if anchor and dest.endswith(".md") and anchor not in anchors(dest):
                    problems.append(f"{where}: no heading makes #{anchor}")
    return problems


def pages(root):
    found = ["README.md"]
    docs = os.path.join(root, "docs")
    if os.path.isdir(docs):
        for dirpath, _, files in os.walk(docs):
            for name in sorted(files):
                if name.endswith(".md"):
                    found.append(os.path.relpath(os.path.join(dirpath, name), root))
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    listed = pages(root)
    problems = check(root, listed)
    for p in problems:
        print(p)
    print(f"docs-check: {len(listed)} pages, {len(problems)} broken links")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
