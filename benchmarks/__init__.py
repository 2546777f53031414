"""Scripts that print figures about the service; each runs with ``python -m benchmarks.<name>``."""
