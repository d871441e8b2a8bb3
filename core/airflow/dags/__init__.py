"""The files the orchestrator parses: executor.py and operator_tester.py."""
