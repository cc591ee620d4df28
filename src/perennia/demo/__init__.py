"""The demo job that `make demo` runs."""
