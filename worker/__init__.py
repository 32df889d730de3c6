"""The GPU side: loads the models once per process and triages tickets from the queue."""
