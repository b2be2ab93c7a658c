"""Parts for the demo and the tests, not product features: a Schema Registry that speaks
the Confluent REST contract (schema_registry.py) and the demo's schema-framed traffic.

Core never imports this package (tests/test_layering.py); the demo (cli/demo.py) and the
tests do.
"""
