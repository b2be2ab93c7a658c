"""Parts for the demo and the tests, not product features.

`kafkaops demo` (cli/demo.py), in the order its modules build on each other:
- records.py: `DemoRecord`, the `RecordGenerator` base and the fictional company's services,
  teams and people.
- ops_records.py, business_records.py: one record generator per pattern (CI/CD, logs,
  metrics, Kubernetes, IaC; orders, settings, CDC, chargeback).
- dead_letters.py: what the orders-service group fails on, and the Spring Kafka dead-letter
  headers it adds.
- catalogue.py: the demo's topics, consumer groups and feature flags, as data.
- traffic.py: `DemoTraffic`, the producers and consumer groups at a bounded pace.
- config_file.py: the config file naming the embedded clusters (alerts, DR, teams, policies).
- world.py: `Demo`, which starts the clusters, writes the config, creates the topics and runs
  the traffic and its parts; `DemoFlags`, the part that seeds the flags.
- embedded.py: the Tansu brokers as child processes.
- replicator.py: MirrorMaker 2's records, written byte for byte (DR status and failover).
- schema_registry.py (with registry_logic.py, registry_store.py, registry_compat.py): a Schema
  Registry that speaks the Confluent REST contract; schema_traffic.py: schema-framed traffic.
- connect_install.py, connect_worker.py, connect_traffic.py: a real Kafka Connect worker.

Core never imports this package (tests/test_layering.py); the demo (cli/demo.py) and the
tests do.
"""
