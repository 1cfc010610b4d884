"""A web page for searching a folder of pictures: ``retrieval serve``.

Example
-------
>>> from retrieval.web import create_app                     # doctest: +SKIP
>>> app = create_app(gallery)                                # doctest: +SKIP
"""

from retrieval.web.app import Gallery, Hit, create_app

__all__ = ["Gallery", "Hit", "create_app"]
