"""Day-2 administration: produce records; create, delete, reconfigure and grow topics;
describe and delete consumer groups; list brokers with their configs.

- `plans`: the one model every change shares (`AdminPlan`: the state now, each change as
  before -> after, warnings; `AdminResult`: what was read back), and the action names.
- `rules`: pure checks (topic names, topic configs, headers, acks) and config diffs.
- `wire`: the admin requests, and what a broker offers (read from ApiVersions).
- `topic_admin`, `groups`, `brokers`, `produce` (+ `encode` for Schema Registry framing):
  the services each face calls.

Every change is planned (nothing changed), then applied through `core.audit.log.record_change`
(refused on a read-only cluster, audited, read back).
"""
