"""The Hydra configuration of crowdlab, shipped with the package (``experiments.run`` reads it as ``../conf``)."""
