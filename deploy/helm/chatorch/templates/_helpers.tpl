{{/* Names, labels and the pieces every chatorch pod shares. */}}

{{- define "chatorch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "chatorch.fullname" -}}
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

{{- define "chatorch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "chatorch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chatorch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "chatorch.labels" -}}
helm.sh/chart: {{ include "chatorch.chart" . }}
{{ include "chatorch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chatorch
{{- end -}}

{{/* Labels of one role: include with (dict "root" $ "component" "gateway"). */}}
{{- define "chatorch.componentLabels" -}}
{{ include "chatorch.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "chatorch.componentSelector" -}}
{{ include "chatorch.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "chatorch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "chatorch.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "chatorch.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Secret the pods read: the one you manage, or the chart's. */}}
{{- define "chatorch.secretName" -}}
{{- default (include "chatorch.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* CHATORCH_* → value of the chart-made Secret; empty values are left out. */}}
{{- define "chatorch.secretData" -}}
{{- $s := .Values.secrets -}}
{{- $data := dict -}}
{{- $named := dict "CHATORCH_DATABASE_URL" $s.databaseUrl "CHATORCH_SECRET_KEYS" $s.secretKeys "CHATORCH_JWT_SECRET" $s.jwtSecret "CHATORCH_OPENAI_API_KEY" $s.openaiApiKey "CHATORCH_ANTHROPIC_API_KEY" $s.anthropicApiKey "CHATORCH_VECTOR_API_KEY" $s.vectorApiKey -}}
{{- range $key, $value := merge (dict) $s.extra $named -}}
{{- if $value -}}
{{- $_ := set $data $key (toString $value) -}}
{{- end -}}
{{- end -}}
{{- toYaml $data -}}
{{- end -}}

{{- define "chatorch.filesClaim" -}}
{{- default (printf "%s-files" (include "chatorch.fullname" .)) .Values.files.persistence.existingClaim -}}
{{- end -}}

{{/* Where each pod of a role may be placed, and how the role spreads. */}}
{{- define "chatorch.scheduling" -}}
{{- $role := index .root.Values .component -}}
{{- with $role.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $role.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $role.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .root.Values.topologySpread.enabled }}
topologySpreadConstraints:
{{- range .root.Values.topologySpread.topologyKeys }}
  - maxSkew: {{ $.root.Values.topologySpread.maxSkew }}
    topologyKey: {{ . }}
    whenUnsatisfiable: {{ $.root.Values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "chatorch.componentSelector" $ | nindent 8 }}
    # Only this rollout's pods count: old ones being replaced do not skew the spread.
    matchLabelKeys: [pod-template-hash]
{{- end }}
{{- end }}
{{- end -}}

{{/* Settings every chatorch container reads: ConfigMap, then Secret (which wins). */}}
{{- define "chatorch.envFrom" -}}
envFrom:
  - configMapRef:
      name: {{ include "chatorch.fullname" . }}
  - secretRef:
      name: {{ include "chatorch.secretName" . }}
{{- end -}}

{{- define "chatorch.podEnv" -}}
env:
  - name: CHATORCH_POD_ID
    valueFrom:
      fieldRef:
        fieldPath: metadata.name
{{- end -}}

{{- define "chatorch.volumeMounts" -}}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  - name: files
    mountPath: {{ .Values.files.mountPath }}
{{- end -}}

{{- define "chatorch.volumes" -}}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ .Values.tmp.sizeLimit }}
  - name: files
{{- if .Values.files.persistence.enabled }}
    persistentVolumeClaim:
      claimName: {{ include "chatorch.filesClaim" . }}
{{- else }}
    emptyDir: {}
{{- end }}
{{- end -}}

{{/* Restart pods when the settings they read change (a managed Secret cannot be seen). */}}
{{- define "chatorch.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ include "chatorch.secretData" . | sha256sum }}
{{- end }}
{{- end -}}

{{- define "chatorch.httpProbe" -}}
httpGet:
  path: {{ .path }}
  port: http
{{ toYaml .probe }}
{{- end -}}
