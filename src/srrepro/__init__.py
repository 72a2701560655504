"""srrepro: a reproducible replication library for GAN image super-resolution papers.

The library knows nothing of Snakemake; the workflow in ``workflow/`` calls into it.
"""

__version__ = "0.1.0"
