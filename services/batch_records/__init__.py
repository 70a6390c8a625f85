"""Batch records: master batch records (the approved recipe), authored and approved at a site."""
