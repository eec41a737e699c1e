"""Costdesk command line: the same functions as the dashboard, scriptable.

Exit codes: 0 success; 1 done but something needs attention; 2 unusable input.
"""

import importlib
import sys

# The command line never needs pyarrow: pandas only uses it, when present, for its string
# type. Leaving it out keeps about 60 MB out of every process, twice when a large file parses
# in a second process. Only when run as a program: a process that imports this module (tests,
# a notebook) keeps its own choice.
if __name__ == "__main__":
    sys.modules.setdefault("pyarrow", None)  # type: ignore[arg-type]

import typer

# Each command's module, imported only when that command runs (all of them for --help).
COMMANDS = {
    "prices": "commands.prices",
    "demo": "commands.demo",
    "plan": "commands.plan",
    "alerts": "commands.alerts",
    "budget": "commands.budget",
    "simulate": "commands.simulate",
    "prune": "commands.prune",
    "import-openai": "commands.import_openai",
    "import-anthropic": "commands.import_anthropic",
    "ingest": "commands.ingest",
    "reprice": "commands.ingest",
    "uploads": "commands.ingest",
    "report": "commands.report",
    "digest": "commands.digest",
    "keys": "commands.keys",
    "serve": "commands.serve",
}

app = typer.Typer(
    name="costdesk",
    help="Plan, watch and cut what your team spends on LLM APIs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """Plan, watch and cut what your team spends on LLM APIs."""


def register(argv: list[str]) -> None:
    """Add the commands `argv` asks for (every command when it names none it knows)."""
    named = next((a for a in argv if not a.startswith("-")), None)
    modules = [COMMANDS[named]] if named in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for module in modules:
        importlib.import_module(module).register(app)


register(sys.argv[1:] if __name__ == "__main__" else [])

if __name__ == "__main__":
    app()
