"""Kafka itself: the one owner of aiokafka clients, error mapping, topic I/O and the wire
requests aiokafka lacks."""
