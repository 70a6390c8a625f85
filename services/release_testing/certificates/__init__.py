"""Certificates of analysis: issued by QA per sample, stored with the SHA-256 of their PDF."""
