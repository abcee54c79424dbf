{{/* Names and labels. */}}
{{- define "fluxplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fluxplane.fullname" -}}
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

{{- define "fluxplane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fluxplane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "fluxplane.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "fluxplane.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "fluxplane.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "fluxplane.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "fluxplane.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secret with FLUXPLANE_SECRET_KEY, DATABASE_URL, REDIS_URL and optional credentials. */}}
{{- define "fluxplane.secretName" -}}
{{- default (include "fluxplane.fullname" .) .Values.secret.existingSecret -}}
{{- end -}}

{{- define "fluxplane.allowedHosts" -}}
{{- if not .Values.allowedHosts -}}
{{- fail "allowedHosts is required: the host names Fluxplane is served on (FLUXPLANE_ALLOWED_HOSTS)" -}}
{{- end -}}
{{- join "," .Values.allowedHosts -}}
{{- end -}}

{{/* The Host header the probes send: Django answers only the allowed hosts, so the first of them. */}}
{{- define "fluxplane.probeHost" -}}
{{- $host := trimPrefix "." (first .Values.allowedHosts) -}}
{{- if or (eq $host "*") (contains "*" $host) -}}localhost{{- else -}}{{ $host }}{{- end -}}
{{- end -}}

{{/* playbooks.<value> → FLUXPLANE_PLAYBOOK_<NAME>, as controlplane/settings.py FLUXPLANE_PLAYBOOKS names them. */}}
{{- define "fluxplane.playbookVariables" -}}
suspend: SUSPEND
resume: RESUME
reconcile: RECONCILE
edit: EDIT
createKustomization: CREATE_KUSTOMIZATION
createNamespace: CREATE_NAMESPACE
createDeployment: CREATE_DEPLOYMENT
createHelmRelease: CREATE_HELMRELEASE
updateHelmValues: UPDATE_HELM_VALUES
updateHelmChartVersion: UPDATE_HELM_CHART_VERSION
scale: SCALE
updateResources: UPDATE_RESOURCES
updateImage: UPDATE_IMAGE
requestNamespaceAccess: REQUEST_NAMESPACE_ACCESS
{{- end -}}

{{/* Environment of every Fluxplane container: the ConfigMap, the secret keys, extras. */}}
{{- define "fluxplane.env" -}}
{{- $keys := .Values.secret.keys -}}
{{- $secret := include "fluxplane.secretName" . -}}
envFrom:
  - configMapRef:
      name: {{ include "fluxplane.fullname" . }}
  {{- with .Values.extraEnvFrom }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
env:
  {{- range $var, $key := dict "FLUXPLANE_SECRET_KEY" $keys.secretKey "DATABASE_URL" $keys.databaseUrl "REDIS_URL" $keys.redisUrl }}
  - name: {{ $var }}
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: {{ $key }}
  {{- end }}
  {{- range $var, $key := dict "FLUXPLANE_EMAIL_PASSWORD" $keys.emailPassword "FLUXPLANE_ALERTMANAGER_WEBHOOK_TOKEN" $keys.alertmanagerWebhookToken "FLUXPLANE_FLUX_WEBHOOK_HMAC_KEY" $keys.fluxWebhookHmacKey "FLUXPLANE_FLUX_WEBHOOK_TOKEN" $keys.fluxWebhookToken }}
  - name: {{ $var }}
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: {{ $key }}
        optional: true
  {{- end }}
{{- end -}}

{{- define "fluxplane.volumeMounts" -}}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  - name: data
    mountPath: /data
  {{- if .Values.git.tokenSecret.name }}
  - name: git-token
    mountPath: /var/run/fluxplane
    readOnly: true
  {{- end }}
{{- end -}}

{{- define "fluxplane.volumes" -}}
volumes:
  - name: tmp
    emptyDir: {}
  - name: data
    emptyDir:
      sizeLimit: {{ .Values.dataSizeLimit }}
  {{- if .Values.git.tokenSecret.name }}
  - name: git-token
    secret:
      secretName: {{ .Values.git.tokenSecret.name }}
      defaultMode: 0440
      items:
        - key: {{ .Values.git.tokenSecret.key }}
          path: git-token
  {{- end }}
{{- end -}}

{{/* Pod-level fields shared by every Deployment; dict "root" $ "serviceAccount" true|false. */}}
{{- define "fluxplane.podCommon" -}}
{{- $root := .root -}}
{{- if .serviceAccount }}
serviceAccountName: {{ include "fluxplane.serviceAccountName" $root }}
{{- else }}
automountServiceAccountToken: false
{{- end }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{ include "fluxplane.volumes" $root }}
{{- end -}}

{{/* One Fluxplane container; dict "root" $ "name" NAME "args" LIST "resources" MAP. */}}
{{- define "fluxplane.container" -}}
{{- $root := .root -}}
- name: {{ .name }}
  image: {{ include "fluxplane.image" $root }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  args:
    {{- toYaml .args | nindent 4 }}
  {{- include "fluxplane.env" $root | nindent 2 }}
  {{- include "fluxplane.volumeMounts" $root | nindent 2 }}
  securityContext:
    {{- toYaml $root.Values.securityContext | nindent 4 }}
  {{- with .resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* Annotations that roll the pods when the configuration changes. */}}
{{- define "fluxplane.configChecksum" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.secret.existingSecret }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- end -}}
