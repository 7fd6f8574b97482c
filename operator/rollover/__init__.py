"""district-rollover: a Kubernetes operator for the yearly K-12 roster rollover."""

GROUP = "rostering.k12.dev"
VERSION = "v1alpha1"
KIND = "DistrictRollover"
PLURAL = "districtrollovers"
FIELD_MANAGER = "district-rollover"
