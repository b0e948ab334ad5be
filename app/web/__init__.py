"""The dashboard: server-rendered pages (routes.py, templates/) and vendored static files."""
