"""The operator console: plain ES modules and CSS in `static/`, served by `routes.bp`.

No build step and nothing from another origin: `routes` serves the page, its assets and
the API docs (Swagger UI's files from the `swagger-ui-py` package) itself. See
docs/console.md.
"""
