"""Release testing: specifications, samples and results, OOS investigations, certificates of
analysis, disposition."""
