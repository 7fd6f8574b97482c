"""The marks the operator puts on Kubernetes objects: labels, annotations and its finalizer.

Their values are what other objects, tools and people can see and (except our finalizer and the
original-state annotation) set themselves: code that reads them must never trust them alone.
"""

from __future__ import annotations

from rollover import GROUP

#: Annotation on a paused sync target: its original state, written in the same PATCH that pauses
#: it, so a crash between the two can never lose what to restore.
ORIGINAL_STATE_ANNOTATION = f"{GROUP}/original-state"
#: Annotation on a DistrictRollover: a new value asks for the failed step to be retried.
RETRY_ANNOTATION = f"{GROUP}/retry"
FINALIZER = f"{GROUP}/finalizer"

LABEL_ROLLOVER = f"{GROUP}/rollover"
LABEL_STEP = f"{GROUP}/step"
LABEL_PRODUCT = f"{GROUP}/product"
LABEL_SCHOOL_YEAR = f"{GROUP}/school-year"
LABEL_ATTEMPT = f"{GROUP}/attempt"

#: Environment variable of a preflight Job: the Secrets its template reads, comma-separated, so that
#: `rollover-job preflight` can name the one that is missing (it sees only unset variables).
JOB_SECRETS_ENV = "JOB_SECRETS"

#: Annotation on a Namespace: the district IDs its DistrictRollovers may roll over, comma-separated.
#: Set by the platform team that creates the namespace (district authors cannot write Namespaces).
DISTRICTS_ANNOTATION = f"{GROUP}/districts"


def districts_of(annotations: dict[str, str] | None) -> frozenset[str]:
    """The districts a Namespace's annotations allow: none without the annotation (fail closed)."""
    value = (annotations or {}).get(DISTRICTS_ANNOTATION, "")
    return frozenset(item.strip() for item in value.split(",") if item.strip())
