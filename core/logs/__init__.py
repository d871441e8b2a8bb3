"""Task logs: where a worker's output is kept on each backend, and reading it in pieces."""
