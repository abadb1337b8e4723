"""Names in and out of other apps: the XMP format itself (``xmp``: regions,
keywords, what other apps wrote) and bringing a library's sidecars up to date
or importing their names (``sync``)."""
