"""The CI client of the model metrics tracker: standard library only, so any CI image runs it."""
