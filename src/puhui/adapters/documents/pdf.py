"""Render a stored HTML document to PDF with WeasyPrint (A4, Noto Sans CJK SC for Chinese).

The PDF is a rendering of the contract of record, not a second record: what is hashed and signed
is the stored HTML, so the same HTML always stands behind the PDF a borrower downloads."""

from __future__ import annotations


def render_pdf(html: str) -> bytes:
    """The document as PDF bytes. WeasyPrint is imported here: it is slow to import (~1 s) and
    only this path needs it, so the API and the CLI start without it."""
    from weasyprint import HTML, URLFetcher

    # The contract carries everything inline; refuse file:, http: and the rest so that no text in a
    # document can make the server read a local file or call out while it renders. A fetcher keeps
    # per-request state, so each rendering gets its own.
    fetcher = URLFetcher(allowed_protocols={"data"}, allow_redirects=False)
    pdf = HTML(string=html, url_fetcher=fetcher).write_pdf()
    assert pdf is not None  # write_pdf returns bytes when given no target
    return bytes(pdf)
