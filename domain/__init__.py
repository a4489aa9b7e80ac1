"""The domain: facts, aggregates, contract terms and calendars. Pure: no I/O, no clock."""
