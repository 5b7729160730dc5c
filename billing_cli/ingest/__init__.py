"""The event input pipeline: CSV/JSONL readers, row shaping, validation against the catalog."""
