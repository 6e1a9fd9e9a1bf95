{{/* Names, labels and the values every component derives from `default:` + `components.<name>`. */}}

{{- define "picloss.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "picloss.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* picloss.component.fullname: (dict "root" $ "name" "gateway") */}}
{{- define "picloss.component.fullname" -}}
{{- printf "%s-%s" (include "picloss.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "picloss.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "picloss.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: picloss
{{- end -}}

{{/* picloss.selectorLabels: (dict "root" $ "name" "gateway") */}}
{{- define "picloss.selectorLabels" -}}
app.kubernetes.io/name: {{ include "picloss.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "picloss.componentLabels" -}}
{{ include "picloss.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* picloss.image: (dict "root" $ "image" <component image>) → registry/repository:tag */}}
{{- define "picloss.image" -}}
{{- $d := .root.Values.default.image -}}
{{- $registry := default $d.registry .image.registry -}}
{{- $tag := default (default .root.Chart.AppVersion $d.tag) .image.tag -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "picloss.platform.kafka.fullname" -}}
{{- printf "%s-kafka" (include "picloss.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "picloss.postgresql.fullname" -}}
{{- printf "%s-postgresql" (include "picloss.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "picloss.platform.kafka.bootstrapServers" -}}
{{- if .Values.kafka.enabled -}}
{{- printf "%s:9092" (include "picloss.platform.kafka.fullname" .) -}}
{{- else -}}
{{- required "externalKafka.bootstrapServers is required when kafka.enabled=false" .Values.externalKafka.bootstrapServers -}}
{{- end -}}
{{- end -}}

{{/* The Secret and key holding DATABASE_URL. */}}
{{- define "picloss.database.secretName" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.existingSecret -}}
{{- .Values.externalDatabase.existingSecret -}}
{{- else -}}
{{- printf "%s-database" (include "picloss.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "picloss.database.secretKey" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.existingSecret -}}
{{- .Values.externalDatabase.existingSecretKey -}}
{{- else -}}
DATABASE_URL
{{- end -}}
{{- end -}}

{{- define "picloss.keys.secretName" -}}
{{- default (printf "%s-keys" (include "picloss.fullname" .)) .Values.keys.existingSecret -}}
{{- end -}}

{{- define "picloss.dataKeys.secretName" -}}
{{- default (printf "%s-data-keys" (include "picloss.fullname" .)) .Values.dataKeys.existingSecret -}}
{{- end -}}

{{- define "picloss.dataKeys.used" -}}
{{- if or (eq .c.role "gateway") (has .name (list "orchestrator" "dispatcher")) -}}true{{- end -}}
{{- end -}}

{{- define "picloss.gatewayTLS.secretName" -}}
{{- default (printf "%s-gateway-tls" (include "picloss.fullname" .)) .Values.gatewayTLS.existingSecret -}}
{{- end -}}

{{- define "picloss.gatewayTLS.enabled" -}}
{{- if or .Values.gatewayTLS.existingSecret .Values.gatewayTLS.selfSigned -}}true{{- end -}}
{{- end -}}

{{/* host:port of a model service, for the orchestrator. (dict "root" $ "name" "ocr") */}}
{{- define "picloss.component.address" -}}
{{- $c := index .root.Values.components .name -}}
{{- /* model services are headless: the orchestrator's gRPC DNS resolver sees every ready pod and balances
       round robin over them (a ClusterIP would pin each long-lived gRPC connection to one pod) */ -}}
{{- printf "dns:///%s.%s.svc:%v" (include "picloss.component.fullname" .) .root.Release.Namespace $c.port -}}
{{- end -}}

{{/* Whether a model component runs its model on the chart's Triton. (dict "root" $ "c" <component>) */}}
{{- define "picloss.component.usesTriton" -}}
{{- if and .root.Values.components.triton.enabled (eq .c.role "model") .c.useTriton -}}true{{- end -}}
{{- end -}}
