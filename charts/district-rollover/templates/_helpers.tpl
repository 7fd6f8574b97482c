{{/* Names: the release's full name, truncated to 63 characters (DNS-1123 label). */}}
{{- define "district-rollover.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "district-rollover.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "district-rollover.labels" -}}
{{ include "district-rollover.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: district-rollover
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "district-rollover.serviceAccountName" -}}
{{- default (include "district-rollover.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The operator's image; the Jobs run the same one unless jobs.defaultJob.image says otherwise. */}}
{{- define "district-rollover.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "district-rollover.namespaced" -}}
{{- if eq .Values.scope.mode "namespaces" -}}true{{- end -}}
{{- end -}}

{{/*
The operator's permissions in the namespaces it serves: exactly the API calls it makes
(cluster/apply.py, controller/handlers.py, controller/reconciler.py) and kopf's watches.
No Secrets, no deletes, no Pod creation, no wildcards.
*/}}
{{- define "district-rollover.rules" -}}
# DistrictRollovers: watched (kopf list/watch); the finalizer is added and removed by JSON patch.
- apiGroups: [rostering.k12.dev]
  resources: [districtrollovers]
  verbs: [get, list, watch, patch]
# Status is written only through the status subresource (merge patch).
- apiGroups: [rostering.k12.dev]
  resources: [districtrollovers/status]
  verbs: [patch]
# Archive/reset Jobs carry a blockOwnerDeletion ownerReference to their rollover; with the
# OwnerReferencesPermissionEnforcement admission plugin that requires update on the owner's finalizers.
- apiGroups: [rostering.k12.dev]
  resources: [districtrollovers/finalizers]
  verbs: [update]
# Roster-sync targets: paused and restored by merge patch; never created or deleted.
- apiGroups: [batch]
  resources: [cronjobs]
  verbs: [get, list, watch, patch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, patch]
# Archive/reset Jobs: created, then watched; the garbage collector removes them with their rollover.
- apiGroups: [batch]
  resources: [jobs]
  verbs: [create, get, list, watch]
# Job pods: listed by the job-name label to read a finished Job's termination message.
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
# Events on DistrictRollovers (the operator's and kopf's).
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- end -}}

{{/* The Deployments: one, or one per shard; each with its name and kopf namespace patterns. */}}
{{- define "district-rollover.deployments" -}}
{{- $name := include "district-rollover.fullname" . -}}
{{- if .Values.shards -}}
{{- range .Values.shards }}
- {name: {{ printf "%s-%s" $name .name | trunc 63 | trimSuffix "-" | quote }}, shard: {{ .name | quote }}, namespaces: {{ toJson .namespaces }}}
{{- end }}
{{- else }}
- {name: {{ $name | quote }}, shard: "", namespaces: {{ toJson (ternary .Values.scope.namespaces (list) (eq .Values.scope.mode "namespaces")) }}}
{{- end }}
{{- end -}}
