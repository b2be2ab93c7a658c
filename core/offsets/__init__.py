"""Moving a consumer group's committed offsets: plan, then apply."""
