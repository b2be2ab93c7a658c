"""Clusters and topics: overview, list and one topic's detail.

- `service`: `TopicService` (the cluster overview, the topic list, one topic's partitions,
  offsets and configs, and creating topics) and `NewTopicSpec`.
"""
