"""`python -m promptdsl …` is `promptc …`: the same click group, under the same program name."""
from promptdsl.cli import main

if __name__ == "__main__":
    main(prog_name="promptc")
