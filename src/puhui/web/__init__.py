"""Server-rendered pages (Jinja2 + htmx, ECharts vendored): the borrower portal at `/` and the
operations console at `/console`, in Chinese and English. Pages call the same services as the API;
nothing here talks to the database directly."""
