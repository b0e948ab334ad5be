"""Workers: claim runs from the database queue and execute them under a lease."""
