"""HTTP routes of the cases plugin."""
