"""`promptc check | compile | fmt | schema` (the language front end)."""
COMMANDS = []
