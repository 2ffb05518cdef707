"""Cases (工单): the HTTP API of the closed loop, calls and the catalogue."""
