"""Every relative link in README.md and docs/*.md leads somewhere: the file (or folder)
exists and, when the link names an anchor, the target has that heading. A `.md` file
named in code spans (`events.md`, `spec/api.md`) must exist too: that is how the docs
used to point at specification files the repository does not ship.

Anchors are GitHub's heading slugs: lower case, punctuation dropped (hyphens and
underscores kept), spaces as hyphens, a repeated heading suffixed -1, -2, …
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
INLINE_LINK = re.compile(r"(?<!!)\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
MD_NAME = re.compile(r"^[\w./-]+\.md$")


def prose(page: Path) -> str:
    """The page without its fenced code blocks (a link in an example is not a link)."""
    return FENCE.sub("", page.read_text(encoding="utf-8"))


def slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", prose(page), re.M):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def targets(page: Path) -> list[str]:
    text = prose(page)
    return INLINE_LINK.findall(text) + IMAGE_LINK.findall(text) + REFERENCE.findall(text)


def in_repository(path: Path, root: Path) -> bool:
    """An existing file or folder of the checkout (a fresh clone has nothing beside it)."""
    return path.exists() and path.is_relative_to(root)


def is_external(target: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I))


def problems(page: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with each relative link of `page` in the checkout at `root` (empty
    when all resolve)."""
    found = []
    for target in targets(page):
        if is_external(target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not in_repository(dest, root):
            found.append(f"{target}: no such file in the repository")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            found.append(f"{target}: {dest.name} has no heading #{anchor}")
    for name in CODE_SPAN.findall(prose(page)):
        if MD_NAME.match(name) and not any(in_repository((base / name).resolve(), root)
                                            for base in (page.parent, root, root / "docs")):
            found.append(f"`{name}`: named as a file, but there is none")
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    assert problems(page) == []


def test_the_checks_find_dead_links(tmp_path):
    """The check itself: a missing file, a missing anchor and a code-span name are found;
    a good link, an anchor of the same page, a web link and a link inside code are not."""
    (tmp_path / "other.md").write_text("# Other page\n## Two words: here\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n## Same page\n"
        "[ok](other.md) [ok](other.md#two-words-here) [ok](#same-page) [web](https://example.com/x.md)\n"
        "[gone](spec/events.md) [no anchor](other.md#nowhere) [no local](#elsewhere)\n"
        "see `spec/api.md`, `other.md` and `../../README.md`\n"
        "```\n[in code](missing.md)\n```\n")
    assert problems(page, tmp_path) == [
        "spec/events.md: no such file in the repository",
        "other.md#nowhere: other.md has no heading #nowhere",
        "#elsewhere: page.md has no heading #elsewhere",
        "`spec/api.md`: named as a file, but there is none",
        "`../../README.md`: named as a file, but there is none",
    ]


def test_slugs_follow_github():
    assert slug("4. Notification") == "4-notification"
    assert slug('Previewing notifications (`"render": true`, `tocsin test --render`)') == \
        "previewing-notifications-render-true-tocsin-test---render"
    assert slug("The command line: alerts and silences") == "the-command-line-alerts-and-silences"
