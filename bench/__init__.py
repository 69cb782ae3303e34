"""Benchmarks: each module answers one question, measured side by side with what a user would otherwise use."""
