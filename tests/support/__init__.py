"""Test support shared by the test packages (not part of the product)."""
