"""Pure computation over frozen records: no I/O, no clock, no SQL."""
