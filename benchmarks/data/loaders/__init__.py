"""One loader module per dataset; each returns an :class:`~benchmarks.data.imageset.ImageSet`."""
