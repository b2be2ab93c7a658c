"""Clusters and topics: overview, list and one topic's detail."""
