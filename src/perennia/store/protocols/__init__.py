"""The store's parts, one small `typing.Protocol` per part, grouped one module per area.

`perennia.store.base` assembles them into `Store` (what every backend has) and `ServerStore`
(what a database behind a server has on top). Import protocols from there or from here.
"""
