"""Tech transfer between the sites: transfer packages, recipe differences, comparability."""
