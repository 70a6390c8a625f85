"""``make bench``: MBR create throughput against a bare gRPC echo, and the cross-site delay from
a commit at one site to the other site's view. ``python -m bench --help`` lists the knobs.
"""
