"""The OPC UA bridge: a plant's OPC UA nodes streamed into a run's process readings,
through an on-disk buffer that outlasts the service being unreachable."""
