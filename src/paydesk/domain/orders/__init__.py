"""Orders: their state machine, creation, queries, closing, payment and synchronisation."""
