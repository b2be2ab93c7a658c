"""Kafka Connect: connectors and tasks over the Connect REST API, for every face.

- `model`: the frozen records core hands out (connectors, tasks, plans, results).
- `client`: one Connect cluster's REST API over httpx (timeouts, auth, TLS, errors mapped).
- `rules`: pure functions (the REST API's JSON read, secrets redacted, task counts, what a
  change will do).
- `service`: `ConnectService`, reads and audited changes of one Connect cluster.
- `settings`: checks of `clusters.<name>.connect` and picking one by name.
- `alerting`: alert rules on connectors (`failed_tasks`, `connector_failed`).
- `errors`: what goes wrong, each naming the Connect cluster and the key to check.

The local Apache Kafka Connect 3.9 worker the tests and the demo run is not product code:
it lives in kafkaops.demo (connect_install.py, connect_worker.py, connect_traffic.py).
"""
