"""The resource types the operator talks to, for lightkube."""

from __future__ import annotations

from lightkube.generic_resource import create_namespaced_resource

from rollover import GROUP, KIND, PLURAL, VERSION

DistrictRollover = create_namespaced_resource(GROUP, VERSION, KIND, PLURAL)
