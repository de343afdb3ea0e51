"""``python -m cli`` runs the ``waterbill`` command (used by ``waterbill up`` for its children)."""

from cli.main import app

app()
