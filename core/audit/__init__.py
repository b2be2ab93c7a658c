"""The tamper-evident audit trail: records, signing, verification, the log and its listings."""
