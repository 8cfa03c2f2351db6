"""Session archives and transcripts, built from the log alone: one ``.tar.gz`` per archived
session (``tarball``) holding the transcript a person reads (``transcript``), the raw events and
the state."""
