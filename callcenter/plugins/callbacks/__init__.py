"""Callbacks and automated return visits (回拨 / 回访): policy, service, dialler, voice answers."""
