"""The HTTP entrypoint: FastAPI app, routers per resource, auth, web pages."""
