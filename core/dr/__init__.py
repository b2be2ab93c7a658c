"""Disaster recovery of a MirrorMaker 2 pair: formats, status, the control topic, failover."""
