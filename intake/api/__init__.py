"""The REST API of intake: institutions' systems send archives and follow their checking."""
