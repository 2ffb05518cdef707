"""The worker process (后台任务): outbox relay, 督办 sweeps, transcript → suggestion pipeline, callbacks."""
