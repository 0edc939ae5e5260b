"""The HTTP face of livereport: the ASGI app, its routes and authentication."""
