"""The conjugation run aggregate."""
