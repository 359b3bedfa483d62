"""Use cases: the only write path. The API and the ops console both call these functions."""
