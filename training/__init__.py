"""Training and evaluating the classification heads (``ticketflow train`` / ``eval``)."""
