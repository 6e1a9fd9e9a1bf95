{{/*
picloss.env: the environment of one component, (dict "root" $ "name" <name> "c" <component>).
Precedence: components.<name>.env > what the chart derives for the role > default.env.
Secrets (DATABASE_URL) come by reference, never as plain values.
*/}}
{{- define "picloss.env" -}}
{{- $root := .root -}}
{{- $c := .c -}}
{{- $derived := dict "METRICS_PORT" (toString $c.metricsPort) -}}
{{- $topics := $root.Values.kafka.topics -}}
{{- if has $c.role (list "gateway" "consumer") -}}
{{- $_ := set $derived "KAFKA_BOOTSTRAP_SERVERS" (include "picloss.platform.kafka.bootstrapServers" $root) -}}
{{- $_ := set $derived "KAFKA_REQUESTS_TOPIC" $topics.requests.name -}}
{{- $_ := set $derived "KAFKA_RESULTS_TOPIC" $topics.results.name -}}
{{- end -}}
{{- if eq $c.role "gateway" -}}
{{- $_ := set $derived "GATEWAY_PORT" (toString $c.port) -}}
{{- if include "picloss.gatewayTLS.enabled" $root -}}
{{- $_ := set $derived "GATEWAY_TLS" "true" -}}
{{- $_ := set $derived "GATEWAY_TLS_CERT" "/etc/picloss/tls/tls.crt" -}}
{{- $_ := set $derived "GATEWAY_TLS_KEY" "/etc/picloss/tls/tls.key" -}}
{{- else -}}
{{- $_ := set $derived "GATEWAY_TLS" "false" -}}
{{- end -}}
{{- end -}}
{{- if or (eq $c.role "gateway") (eq .name "dispatcher") -}}
{{- $_ := set $derived "PICLOSS_KEYS_FILE" (printf "/etc/picloss/keys/%s" $root.Values.keys.secretKey) -}}
{{- end -}}
{{- if include "picloss.dataKeys.used" . -}}
{{- $_ := set $derived "PICLOSS_DATA_KEYS_FILE" (printf "/etc/picloss/data-keys/%s" $root.Values.dataKeys.secretKey) -}}
{{- end -}}
{{- if eq .name "orchestrator" -}}
{{- range $model := list "classifier" "ocr" "damage" "aggregator" -}}
{{- $_ := set $derived (printf "%s_ADDR" (upper $model)) (include "picloss.component.address" (dict "root" $root "name" $model)) -}}
{{- end -}}
{{- end -}}
{{- if eq $c.role "model" -}}
{{- $_ := set $derived "GRPC_PORT" (toString $c.port) -}}
{{- $_ := set $derived "PICLOSS_MODELS_DIR" "/app/models" -}}
{{- with $root.Values.modelVersions -}}
{{- $pins := list -}}
{{- range $model := keys . | sortAlpha -}}
{{- $pins = append $pins (printf "%s=%v" $model (index $root.Values.modelVersions $model)) -}}
{{- end -}}
{{- $_ := set $derived "PICLOSS_MODEL_VERSIONS" (join "," $pins) -}}
{{- end -}}
{{- if include "picloss.component.usesTriton" (dict "root" $root "c" $c) -}}
{{- $triton := $root.Values.components.triton -}}
{{- $_ := set $derived "TRITON_URL" (printf "%s:%v" (include "picloss.component.fullname" (dict "root" $root "name" "triton")) $triton.port) -}}
{{- end -}}
{{- end -}}
{{- $env := merge (deepCopy (default dict $c.env)) $derived (deepCopy (default dict $root.Values.default.env)) -}}
{{- range $key := keys $env | sortAlpha }}
- name: {{ $key }}
  value: {{ index $env $key | toString | quote }}
{{- end }}
{{- if has $c.role (list "gateway" "consumer") }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "picloss.database.secretName" $root }}
      key: {{ include "picloss.database.secretKey" $root }}
{{- end }}
{{- end -}}
