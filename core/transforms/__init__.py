"""Running one transformation: the context, the kinds (python, notebook), the runtime."""
