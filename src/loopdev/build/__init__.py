"""Image builds: content digests, the build context, build order, the builder and delivery."""
