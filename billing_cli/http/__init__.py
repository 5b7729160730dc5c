"""The HTTP face: `billing serve`."""
