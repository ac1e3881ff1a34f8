"""A reader's library (issue #13): collections of saved papers, feedback, followed authors, import and
export, and the recommendations trained on it."""
