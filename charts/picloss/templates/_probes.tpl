{{/*
picloss.probes: startup/readiness/liveness of one component by role, (dict "root" $ "c" <component>).
Model services implement grpc.health.v1 (NOT_SERVING until their models are loaded): native gRPC probes.
The gateway serves /healthz and /readyz on its HTTPS port; consumers on their metrics port.
components.<name>.probes.{startup,readiness,liveness} replace a default probe entirely.
*/}}
{{- define "picloss.probes" -}}
{{- $c := .c -}}
{{- $defaults := dict -}}
{{- if eq $c.role "gateway" -}}
{{- $scheme := ternary "HTTPS" "HTTP" (eq (include "picloss.gatewayTLS.enabled" .root) "true") -}}
{{- $_ := set $defaults "startup" (dict "httpGet" (dict "path" "/healthz" "port" "https" "scheme" $scheme) "periodSeconds" 2 "failureThreshold" 30) -}}
{{- $_ := set $defaults "readiness" (dict "httpGet" (dict "path" "/readyz" "port" "https" "scheme" $scheme) "periodSeconds" 5 "failureThreshold" 2) -}}
{{- $_ := set $defaults "liveness" (dict "httpGet" (dict "path" "/healthz" "port" "https" "scheme" $scheme) "periodSeconds" 10 "failureThreshold" 3) -}}
{{- else if eq $c.role "consumer" -}}
{{- $_ := set $defaults "startup" (dict "httpGet" (dict "path" "/healthz" "port" "metrics") "periodSeconds" 2 "failureThreshold" 60) -}}
{{- $_ := set $defaults "readiness" (dict "httpGet" (dict "path" "/readyz" "port" "metrics") "periodSeconds" 5 "failureThreshold" 3) -}}
{{- $_ := set $defaults "liveness" (dict "httpGet" (dict "path" "/healthz" "port" "metrics") "periodSeconds" 10 "failureThreshold" 6) -}}
{{- else if eq $c.role "model" -}}
{{- $_ := set $defaults "startup" (dict "grpc" (dict "port" (int $c.port)) "periodSeconds" 5 "failureThreshold" 60) -}}
{{- $_ := set $defaults "readiness" (dict "grpc" (dict "port" (int $c.port)) "periodSeconds" 5 "failureThreshold" 2) -}}
{{- $_ := set $defaults "liveness" (dict "grpc" (dict "port" (int $c.port)) "periodSeconds" 10 "failureThreshold" 6) -}}
{{- else if eq $c.role "triton" -}}
{{- $_ := set $defaults "startup" (dict "httpGet" (dict "path" "/v2/health/ready" "port" "http") "periodSeconds" 10 "failureThreshold" 120) -}}
{{- $_ := set $defaults "readiness" (dict "httpGet" (dict "path" "/v2/health/ready" "port" "http") "periodSeconds" 5 "failureThreshold" 2) -}}
{{- $_ := set $defaults "liveness" (dict "httpGet" (dict "path" "/v2/health/live" "port" "http") "periodSeconds" 10 "failureThreshold" 6) -}}
{{- end -}}
{{- $overrides := default dict $c.probes -}}
{{- $probes := dict -}}
{{- range $kind := list "startup" "readiness" "liveness" -}}
{{- $_ := set $probes $kind (ternary (index $overrides $kind) (index $defaults $kind) (hasKey $overrides $kind)) -}}
{{- end -}}
{{- with $probes.startup }}
startupProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $probes.readiness }}
readinessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $probes.liveness }}
livenessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
