"""Papers: canonical ids, the PaperIn/Paper records, the merge rule and the repository (all paper SQL)."""
