"""HTTP routes, one module per resource; each exposes a Sanic `Blueprint` named `bp`."""
