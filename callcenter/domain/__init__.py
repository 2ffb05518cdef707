"""Pure domain logic (no I/O): workflow, deadlines, KPIs, masking, case numbers."""
