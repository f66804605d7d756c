"""nbval settings for the book's notebooks (picked up by ``pytest --nbval book/...``).

Like TransformerLens's notebook CI, we compare every text output strictly but skip the HTML and JSON
forms of interactive figures and widgets: they embed random element ids. Their ``text/plain`` form is
still compared, and PNG figures are checked to exist by ``tests/test_book.py``.
"""
import nbval.plugin

_SKIP = ("text/html", "application/vnd.plotly.v1+json", "application/javascript")
_init = nbval.plugin.IPyNbFile.__init__


def _init_with_book_skips(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.skip_compare = tuple(self.skip_compare) + _SKIP


nbval.plugin.IPyNbFile.__init__ = _init_with_book_skips
