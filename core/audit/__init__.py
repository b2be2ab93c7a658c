"""The tamper-evident audit trail. Modules (nothing is re-exported here):

- model.py: the records as read back (`AuditRecord`), the faces and results, what
  verification reports (`AuditProblem`, `VerifyReport`), `AuditError`; folding a trail to
  one row per change and parsing records out of messages. Frozen data, no I/O.
- chain.py: the tamper evidence, pure: the canonical form and its HMAC signature,
  `build_record` (a signed record), `digest` (what a head names a record by) and
  `verify_trail` (signatures, per-writer chains, head links, intents with no outcome).
- log.py: the I/O: `AuditLog` (one cluster's trail and this process's writer on it: append,
  read, verify, close an intent), `record_change` (the one path every change goes through:
  intent, apply, outcome), `audit_context` and `local_actor` (who is writing).
- trails.py: several clusters' trails listed as one, and refusals written where they can be.
"""
