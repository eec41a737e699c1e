"""Costdesk command line: the same functions as the dashboard, scriptable.

Exit codes: 0 success; 1 done but something needs attention; 2 unusable input.
"""

import typer

from commands import alerts, budget, demo, import_openai, ingest, plan, prices, simulate

app = typer.Typer(
    name="costdesk",
    help="Plan, watch and cut what your team spends on LLM APIs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (prices, demo, plan, alerts, budget, simulate, import_openai, ingest):
    module.register(app)

if __name__ == "__main__":
    app()
