"""SiteViewService: each site's read-only view of the master batch records and the executed
batches of every site."""
