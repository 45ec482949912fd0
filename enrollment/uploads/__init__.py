"""The Friday upload: check and store a report file (ingest), withdraw, the upload template and
the upload log with every revision of a unit's figure."""
