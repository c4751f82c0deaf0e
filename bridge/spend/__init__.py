"""What each API key spends: the CLI's per-turn figures, kept per key in the store, with budgets."""
