"""The command line, `python -m hvconform <command>`: one module per command, each
with HELP, add_arguments(parser) and run(args) -> exit code (hvconform/__main__.py
lists them). The audit itself is a pytest run (conftest.py); these commands work on
its results and bundles.
"""
