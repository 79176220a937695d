"""`opendfa serve`: the REST API and web UI (FastAPI; install the `server` extra)."""
