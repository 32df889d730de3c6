from ticketflow.cli import app

app()
