"""Built-in plugins. They register through the `promptdsl` entry-point group, exactly as a third party does."""
