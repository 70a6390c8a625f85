"""SiteViewService: each site's read-only view of the master batch records of every site."""
