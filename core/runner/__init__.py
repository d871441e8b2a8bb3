"""Running whole pipelines on one machine (the local runner)."""
