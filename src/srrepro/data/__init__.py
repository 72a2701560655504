"""Data and assets: datasets (demo, mirror, checksummed downloads), the prepared layout, external weight files."""
