"""What the statements and reports say: the figures, built from the ledger (no rendering)."""
