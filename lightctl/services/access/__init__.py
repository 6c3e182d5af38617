"""Who may act: users, tokens and sessions, and whether an ack comes from the lantern it names."""
