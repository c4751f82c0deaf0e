"""Warm, bounded, rate-limited slots of Claude CLI processes (no HTTP in here)."""
