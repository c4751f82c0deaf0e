"""Web search sources -> OpenAI `url_citation` annotations on the answer's text. Pure.

The CLI's WebSearch tool gives the model a list of links (title and URL) and tells it to cite
them as markdown links; the model's answer is plain text, without Anthropic `citations` (those
stay inside the CLI's own search request). So a citation here is a place in the returned
content that links to one of the turn's search results: a markdown link `[label](url)` (the
whole link is the cited span, as OpenAI marks it), or the bare URL where no markdown link holds
it. Indexes count characters (code points) of the content, end exclusive.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

MARKDOWN_LINK = re.compile(r"\[(?P<label>[^\]\n]*)\]\((?P<url>[^)\s]+)(?:\s+\"[^\"]*\")?\)")


@attrs.frozen
class Source:
    url: str
    title: str


@attrs.frozen
class Citation:
    url: str
    title: str
    start_index: int
    end_index: int


def sources_from(tool_use_result: Any) -> tuple[Source, ...]:
    """The links of the CLI's WebSearch result: `{"query", "results": [{"content": [{title, url}]}, "text"]}`."""
    if not isinstance(tool_use_result, dict):
        return ()
    found: dict[str, Source] = {}
    for result in tool_use_result.get("results") or []:
        if not isinstance(result, dict):
            continue  # the search model's own summary text
        for link in result.get("content") or []:
            if isinstance(link, dict) and isinstance(link.get("url"), str) and link["url"]:
                title = link.get("title") if isinstance(link.get("title"), str) else ""
                found.setdefault(link["url"], Source(link["url"], title or link["url"]))
    return tuple(found.values())


def _key(url: str) -> str:
    return url.rstrip("/")


def cite(text: str, sources: tuple[Source, ...] | list[Source]) -> tuple[Citation, ...]:
    """Every place in `text` that links to one of `sources`, in order."""
    by_url = {_key(s.url): s for s in sources}
    if not by_url:
        return ()
    citations: list[Citation] = []
    taken: list[tuple[int, int]] = []
    for match in MARKDOWN_LINK.finditer(text):
        source = by_url.get(_key(match["url"]))
        if source is not None:
            citations.append(Citation(source.url, source.title, match.start(), match.end()))
        taken.append((match.start(), match.end()))
    for key, source in by_url.items():
        for match in re.finditer(re.escape(key) + r"/?", text):
            start, end = match.start(), match.end()
            if any(a <= start < b for a, b in taken):
                continue
            if re.match(r"[\w\-/%?#=&~+]|\.\w", text[end : end + 2]):
                continue  # a longer URL that merely starts with this one
            citations.append(Citation(source.url, source.title, start, end))
            taken.append((start, end))
    return tuple(sorted(citations, key=lambda c: c.start_index))
