"""Loading the user's inputs into one snapshot and one policy set (see ``workspace.load``)."""
