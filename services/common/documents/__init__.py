"""Printed records (PDF): the one way every context makes a document a person reads and signs."""
