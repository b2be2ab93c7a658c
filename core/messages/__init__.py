"""Messages on a topic: tail, browse, seek, decode for display."""
