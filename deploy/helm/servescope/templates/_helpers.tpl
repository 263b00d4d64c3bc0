{{/* Chart name, truncated to the 63 characters of a Kubernetes name. */}}
{{- define "servescope.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name: the release name, plus the chart name unless the release already contains it. */}}
{{- define "servescope.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels selecting the servescope pod. */}}
{{- define "servescope.selectorLabels" -}}
app.kubernetes.io/name: {{ include "servescope.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "servescope.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "servescope.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: servescope
{{- end }}

{{/* Service account name. */}}
{{- define "servescope.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "servescope.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The mode: embedded, external or agent; externalPrometheus.enabled is mode external. */}}
{{- define "servescope.mode" -}}
{{- $mode := default "embedded" .Values.mode }}
{{- if not (has $mode (list "embedded" "external" "agent")) }}
{{- fail (printf "mode %q: want embedded, external or agent" $mode) }}
{{- end }}
{{- if .Values.externalPrometheus.enabled }}
{{- if eq $mode "agent" }}
{{- fail "mode agent and externalPrometheus.enabled contradict: an agent writes to a central store, set externalPrometheus only on the central servescope" }}
{{- end }}
{{- $mode = "external" }}
{{- end }}
{{- $mode }}
{{- end }}

{{/* Whether the pod writes to its volume: the embedded TSDB, or the agent's WAL (not in external mode). */}}
{{- define "servescope.stores" -}}
{{- if ne (include "servescope.mode" .) "external" }}true{{- end }}
{{- end }}

{{/* global: of servescope.yml: the values' config.global plus the non-empty externalLabels. */}}
{{- define "servescope.global" -}}
{{- $global := deepCopy (default dict .Values.config.global) }}
{{- $labels := dict }}
{{- range $k, $v := .Values.externalLabels }}
{{- if $v }}{{- $_ := set $labels $k $v }}{{- end }}
{{- end }}
{{- if $labels }}{{- $_ := set $global "external_labels" $labels }}{{- end }}
{{- toYaml $global }}
{{- end }}

{{/* Where the remote-write credentials Secret is mounted in agent mode. */}}
{{- define "servescope.remoteWriteDir" -}}/var/run/secrets/servescope/remote-write{{- end }}

{{/* The agent's remote_write entry (Prometheus's format), credentials read from the mounted Secret. */}}
{{- define "servescope.remoteWrite" -}}
{{- $rw := .Values.agent.remoteWrite }}
{{- $dir := include "servescope.remoteWriteDir" . }}
{{- $out := dict "url" (required "agent.remoteWrite.url is required in agent mode (the central receiver, e.g. Thanos receive's /api/v1/receive)" $rw.url) }}
{{- if and $rw.basicAuth.secretName $rw.bearerToken.secretName }}
{{- fail "agent.remoteWrite: set basicAuth or bearerToken, not both" }}
{{- end }}
{{- if $rw.basicAuth.secretName }}
{{- $_ := set $out "basic_auth" (dict "username_file" (printf "%s/username" $dir) "password_file" (printf "%s/password" $dir)) }}
{{- end }}
{{- if $rw.bearerToken.secretName }}
{{- $_ := set $out "authorization" (dict "credentials_file" (printf "%s/token" $dir)) }}
{{- end }}
{{- with $rw.extra }}
{{- $out = merge $out (deepCopy .) }}
{{- end }}
{{- toYaml (list $out) }}
{{- end }}

{{/* The Secret holding the remote-write credentials in agent mode ("" for none). */}}
{{- define "servescope.remoteWriteSecret" -}}
{{- default .Values.agent.remoteWrite.bearerToken.secretName .Values.agent.remoteWrite.basicAuth.secretName }}
{{- end }}
