"""Tests of the cases plugin (the HTTP API of cases, calls and the catalogue)."""
