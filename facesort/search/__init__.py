"""Finding and showing: photos by person and date (``find``), the export
formats (``export``) and contact sheets of faces (``sheets``)."""
