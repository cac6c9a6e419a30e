"""Editor support for `.prompt` files: the Pygments lexer (lexer.py); docs/editors.md."""
