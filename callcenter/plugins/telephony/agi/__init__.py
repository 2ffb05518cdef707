"""FastAGI server and IVR handlers of the hotline (intake, status, return_visit)."""
