"""The `ticketflow` command.

Each sub-command lives in the package it belongs to and is registered here. Modules on the
worker side import torch only inside their command bodies, so `ticketflow api` and the other
producer commands start fast and never load it.
"""

from __future__ import annotations

import typer

from producer.backfill.cli import backfill
from producer.commands import api_cmd, db_cmd, requeue_cmd
from producer.email.cli import ingest_email
from producer.kb_cli import kb_cmd
from ticketflow.demo_cmd import demo
from worker.commands import worker_cmd
from worker.training.cli import eval_cmd, train

app = typer.Typer(
    name="ticketflow",
    help="Classify support tickets and draft replies on your own GPUs, for a human to review.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

app.command("demo")(demo)
app.command("api")(api_cmd)
app.command("requeue")(requeue_cmd)
app.add_typer(db_cmd, name="db")
app.command("worker")(worker_cmd)
# -- channel and model commands register below (one line each) --
app.command("backfill")(backfill)
app.add_typer(kb_cmd, name="kb")
app.command("train")(train)
app.command("eval")(eval_cmd)
app.command("ingest-email")(ingest_email)

if __name__ == "__main__":
    app()
