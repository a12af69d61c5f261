"""`python -m hvconform <command> ...`: see `python -m hvconform --help`.
Each command is a module of hvconform/cli/ (HELP, add_arguments, run)."""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

# command name -> module under hvconform/cli/
COMMANDS = {
    "verify": "verify",
    "export": "export",
    "report": "report",
    "inventory": "inventory",
    "trend": "trend",
    "merge": "merge",
    "audit": "audit",
}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="python -m hvconform")
    sub = parser.add_subparsers(dest="command", required=True)
    # only the command asked for is imported: `verify` need not load the collector and
    # the judge (~1 s); without a known command (--help, a typo) every one, to list them
    named = [argv[0]] if argv and argv[0] in COMMANDS else list(COMMANDS)
    for name in named:
        module_name = COMMANDS[name]
        module = import_module(f"hvconform.cli.{module_name}")
        command = sub.add_parser(name, help=module.HELP, description=module.__doc__)
        module.add_arguments(command)
        command.set_defaults(func=module.run)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
