"""Consumer lag: snapshots, per-partition status judged over a window of time, the service."""
