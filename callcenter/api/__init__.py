"""HTTP API (FastAPI): auth, cases, catalogue, calls; OpenAPI at /docs."""
