"""ADC conjugation runs (issue 10; design: docs/conjugation.md)."""
