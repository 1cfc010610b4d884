"""A web page for searching pictures by text or by example image: ``retrieval serve``.

The page is a jinja2 template shipped in ``retrieval/web/templates``.

Examples
--------
>>> from retrieval.web import create_app                     # doctest: +SKIP
>>> app = create_app(SearcherBackend(searcher), roots=[...]) # doctest: +SKIP
"""

from retrieval.web.app import SearchBackend, create_app
from retrieval.web.backend import LibraryBackend, SearcherBackend

__all__ = ["LibraryBackend", "SearchBackend", "SearcherBackend", "create_app"]
