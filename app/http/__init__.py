"""The web layer shared by every route: who is asking (auth), sessions, security headers, error pages, forms, page
rendering helpers and health probes."""
