#!/usr/bin/env python3
"""Checks the relative links of README.md and docs/*.md.

Every Markdown link or image whose target is not a URL must name a file or
folder that exists (relative to the page), and a `#fragment` must name a
heading of the page it points into, slugged as GitHub does (lower case,
punctuation dropped, spaces to hyphens, repeats numbered -1, -2 …). Links
inside code spans and fenced code blocks are not links. A link to a file that
is not there yet can be allowed in ALLOWED_MISSING with the reason.

Prints one line per broken link (page:line: target: reason) and exits 1 if
there is any, else prints a count and exits 0. Run from anywhere:
`python3 scripts/check-doc-links.py`.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Files another change is to add; links to them are accepted while missing.
ALLOWED_MISSING: set[str] = set()

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def slug(text):
    """GitHub's heading anchor: inline markup dropped, lower case,
    characters other than word characters, spaces and hyphens removed,
    spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: their text
    text = text.replace("`", "").replace("*", "")
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def lines_outside_code(path):
    """(line number, text) of each line outside fenced code, with inline
    code spans blanked (a link inside a code span is not a link)."""
    fence = None
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif m.group(1) == fence:
                fence = None
            continue
        if fence is None:
            yield n, re.sub(r"(`+)(.+?)\1", lambda c: " " * len(c.group(0)), line)


def headings(path):
    """The anchors of a page's headings, slugged from their raw text (code
    spans included), outside fenced code."""
    fence = None
    seen = {}
    found = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        m = FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif m.group(1) == fence:
                fence = None
            continue
        if fence is not None:
            continue
        m = HEADING.match(line)
        if m:
            base = slug(m.group(2))
            found.add(f"{base}-{seen[base]}" if base in seen else base)
            seen[base] = seen.get(base, 0) + 1
    return found


def main():
    pages = [ROOT / "README.md", ROOT / "ARCHITECTURE.md"] + sorted((ROOT / "docs").glob("*.md"))
    broken = []
    allowed = set()
    checked = 0
    for page in pages:
        for n, line in lines_outside_code(page):
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                    continue  # a URL (https:, mailto: …)
                checked += 1
                where = f"{page.relative_to(ROOT)}:{n}: {target}"
                path, _, fragment = target.partition("#")
                dest = (page.parent / path).resolve() if path else page
                rel = dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest
                if not dest.exists():
                    if str(rel) in ALLOWED_MISSING:
                        allowed.add(str(rel))
                    else:
                        broken.append(f"{where}: no such file")
                    continue
                if fragment:
                    if dest.suffix != ".md" or dest.is_dir():
                        broken.append(f"{where}: an anchor into a file that is not Markdown")
                    elif fragment not in headings(dest):
                        broken.append(f"{where}: no heading #{fragment} in {rel}")
    for b in broken:
        print(b)
    for a in sorted(allowed):
        print(f"note: {a} does not exist yet; links to it are allowed (ALLOWED_MISSING)", file=sys.stderr)
    if broken:
        print(f"{len(broken)} broken link(s) of {checked}", file=sys.stderr)
        return 1
    print(f"ok: {checked} relative links in {len(pages)} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
