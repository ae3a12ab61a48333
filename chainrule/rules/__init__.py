"""The rule table: one entry per primitive (see registry.py for the record, elementwise.py and arrays.py for the
entries)."""
