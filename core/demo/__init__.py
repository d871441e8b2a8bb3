"""The demo: a generated specialty-pharmacy source and the sample pipeline run on it."""
