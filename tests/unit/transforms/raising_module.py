"""A module whose import fails, like a user's transform with a bug at module level."""

raise RuntimeError("the module failed while importing")
