"""The demo stack (演示环境): every service on one machine with simulated callers."""
