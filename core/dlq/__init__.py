"""Dead-letter topics: recognise, read, replay exactly once."""
