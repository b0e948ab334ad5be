"""The REST API: routers per resource, schemas, dependencies. Mounted by ``app.server``."""
