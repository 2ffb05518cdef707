"""Services: database-backed operations built on the pure domain modules."""
