"""The pure domain of process readings: tags, chunks, excursions, buckets and ingest."""
