"""The site's equipment register: what a batch step may use, and in which state."""
