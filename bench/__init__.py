"""Runnable benchmarks (figures in docs/benchmarks.md); a package so tests can import their pure parts."""
