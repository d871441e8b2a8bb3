"""``python -m corebot``: the worker entry point without relying on PATH."""

from corebot.cli import main

main()
