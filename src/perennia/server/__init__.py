"""`perennia server`: the store (and later the registry and serving) behind HTTP.

`app.create_app()` builds the ASGI app; `routes/` holds one module per resource of the native
API under `/api/v1/`. The app keeps no state but its store handle, so any number of workers and
processes can serve one PostgreSQL database.
"""
