"""Documents: contract rendering (Jinja2 HTML) and the platform's Ed25519 signatures."""
