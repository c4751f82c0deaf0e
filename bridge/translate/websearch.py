"""The CLI's web searches in a turn: search calls, and the citations of their sources. Pure."""

from __future__ import annotations

import attrs

from bridge.translate.citations import Citation, Source, cite, sources_from
from supervisor.events import AssistantMessage, UserMessage

WEB_SEARCH = "WebSearch"


@attrs.frozen
class SearchCall:
    """A web search the CLI ran for the model: `searching` when asked, then completed or failed."""

    id: str
    query: str
    status: str
    sources: tuple[Source, ...] = ()


@attrs.frozen
class Citations:
    """Where the answer's content links to the turn's search results (comes before Finished)."""

    annotations: tuple[Citation, ...]


@attrs.define
class SearchTracker:
    _open: dict[str, str] = attrs.field(factory=dict)  # WebSearch tool_use id -> query
    _sources: list[Source] = attrs.field(factory=list)

    def asked(self, event: AssistantMessage) -> list[SearchCall]:
        out = []
        for block in event.tool_uses:
            search_id = str(block.get("id"))
            if block.get("name") == WEB_SEARCH and search_id not in self._open:
                query = str((block.get("input") or {}).get("query") or "")
                self._open[search_id] = query
                out.append(SearchCall(search_id, query, "searching"))
        return out

    def answered(self, event: UserMessage) -> list[SearchCall]:
        out = []
        for result in event.tool_results:
            search_id = str(result.get("tool_use_id"))
            if search_id not in self._open:
                continue
            failed = bool(result.get("is_error"))
            sources = () if failed else sources_from(event.tool_use_result)
            self._sources += [s for s in sources if s not in self._sources]
            out.append(SearchCall(search_id, self._open.pop(search_id), "failed" if failed else "completed", sources))
        return out

    def citations(self, text: str) -> list[Citations]:
        return [Citations(cite(text, self._sources))] if self._sources else []
