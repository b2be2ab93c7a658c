"""Kafka itself: the one owner of aiokafka clients, error mapping, topic I/O and the wire
requests aiokafka lacks. Modules (nothing is re-exported here):

- clients.py: the only module that builds aiokafka clients: `consumer`, `producer`,
  `admin`, `client` as async context managers that close on every path; `client_options`
  (from a cluster's config), `reader_clients` (clients that never create a topic).
- errors.py: `map_kafka_errors(cluster)` turns aiokafka's errors and OSError into core's
  (ClusterUnreachable naming the cluster, Refused, NotFound); `unreachable`, `no_answer`,
  `refused_credentials` build them. No other module catches aiokafka's errors.
- connection.py: `KafkaConnection`, one cluster's long-lived client and admin client:
  metadata, offsets, high watermarks, leaders.
- topicio.py: generic topic I/O with short-lived clients: `read_records`,
  `read_partition`, `record_timestamps`, `partitions_of`, `Writer`, `ensure_topics`.
- groups.py: a group's committed offsets read and written from outside the group, and its
  member count.
- reach.py: is a cluster answering (a small bounded question, when each last answered);
  readiness.py: the `/readyz` report built on it.
- logwatch.py: noticing that the log a consumer follows was replaced (topic ids).
- wire.py: what the Kafka requests aiokafka does not offer share (error codes,
  `unsupported`, compact decoding) and why each request exists; the requests by family in
  wire_groups.py (OffsetFetch v8, FindCoordinator v4, DescribeGroups v5), wire_fetch.py
  (Fetch v11 decoded for lag, record timestamps) and wire_metadata.py (lean Metadata v5,
  topic ids).

Stopping background tasks is core/tasks.py's `cancel_and_wait`.
"""
