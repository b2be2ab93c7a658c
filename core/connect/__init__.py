"""Kafka Connect: connectors and tasks over the Connect REST API, for every face.

- `model`: the frozen records core hands out (connectors, tasks, plans, results).
- `client`: one worker's REST API over httpx (timeouts, auth, TLS, its errors mapped).
- `rules`: pure functions (secrets redacted, task counts, what a change will do).
- `service`: `ConnectService`, reads and audited changes of one Connect cluster.
- `install` / `worker`: a local Apache Kafka Connect 3.9 worker for the tests and the demo.
"""
