"""The Lark grammar of the .prompt language (installed as promptdsl.grammars)."""
