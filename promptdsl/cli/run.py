"""`promptc train | eval | predict` (the runtime)."""
COMMANDS = []
