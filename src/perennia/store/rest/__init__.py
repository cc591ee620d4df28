"""`RestStore`: the store protocols over HTTP against `perennia server` (`http://host:port`)."""
