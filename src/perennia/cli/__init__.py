"""The `perennia` command line."""
