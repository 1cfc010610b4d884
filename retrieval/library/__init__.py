"""Your own pictures: an incremental crawl of folders and a searchable library of them.

- :class:`~retrieval.library.crawl.FileCatalog`: what changed under the folders since the
  last crawl (SQLite, keyed by path, size, mtime and content digest).
- :class:`PictureLibrary`: the codes of those pictures under a trained bundle, kept up to
  date; features are extracted with the network the bundle was trained on. Or, with no
  bundle, their CLIP embeddings (zero-shot), searched by a :class:`ClipSearcher`.
"""

from retrieval.library._clip import ClipSearcher
from retrieval.library._library import LibraryUpdate, PictureLibrary, default_library_folder
from retrieval.library.crawl import DEFAULT_EXTENSIONS, FileCatalog, iter_image_files

__all__ = [
    "ClipSearcher",
    "DEFAULT_EXTENSIONS",
    "FileCatalog",
    "LibraryUpdate",
    "PictureLibrary",
    "default_library_folder",
    "iter_image_files",
]
