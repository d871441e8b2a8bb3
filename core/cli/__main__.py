"""``python -m core.cli``: the ``core`` command without relying on PATH (the API starts runs so)."""

from core.cli import main

main()
