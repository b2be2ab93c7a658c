"""Feature flags on the compacted topic _kafkaops.flags: model, rules, the service and the SDK."""
