"""Checks (stub; being written)."""

__all__: list[str] = []
