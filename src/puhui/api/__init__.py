"""HTTP entry point: routes translate HTTP <-> use cases and domain errors -> statuses."""
