{{/* Names and labels. fullname is at most 52 characters: "-scheduler" still fits a 63-character name. */}}
{{- define "fluxplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "fluxplane.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
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

{{/* Selector labels of one component; dict "root" $ "component" NAME. */}}
{{- define "fluxplane.componentSelector" -}}
{{ include "fluxplane.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The workers' service account: lists, gets and patches Flux objects, lists mirrored kinds, deletes JIT bindings. */}}
{{- define "fluxplane.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "fluxplane.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The watcher's read-only service account (list and watch only). */}}
{{- define "fluxplane.watcherServiceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (printf "%s-watcher" (include "fluxplane.fullname" .)) .Values.serviceAccount.watcherName -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.watcherName -}}
{{- end -}}
{{- end -}}

{{/* The web pods' account: object pages read pod logs and events (and Helm storage with rbac.secrets) live. */}}
{{- define "fluxplane.webServiceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (printf "%s-web" (include "fluxplane.fullname" .)) .Values.serviceAccount.webName -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.webName -}}
{{- end -}}
{{- end -}}

{{/* repository:tag, or repository@digest when a digest is set (the tag is then informational only). */}}
{{- define "fluxplane.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
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

{{/* The first allowed host usable in a URL (no wildcard, no leading dot), for links; empty when there is none. */}}
{{- define "fluxplane.publicHost" -}}
{{- $found := "" -}}
{{- range .Values.allowedHosts -}}
{{- if and (not $found) (not (contains "*" .)) (not (hasPrefix "." .)) -}}
{{- $found = . -}}
{{- end -}}
{{- end -}}
{{- $found -}}
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

{{/* Variables that hold secrets: they come from the Secret (secret.keys.* / secret.values.*), never extraEnv. */}}
{{- define "fluxplane.secretVariables" -}}
FLUXPLANE_SECRET_KEY: secretKey
DATABASE_URL: databaseUrl
REDIS_URL: redisUrl
FLUXPLANE_EMAIL_PASSWORD: emailPassword
FLUXPLANE_ALERTMANAGER_WEBHOOK_TOKEN: alertmanagerWebhookToken
FLUXPLANE_FLUX_WEBHOOK_HMAC_KEY: fluxWebhookHmacKey
FLUXPLANE_FLUX_WEBHOOK_TOKEN: fluxWebhookToken
{{- end -}}

{{/* The non-secret settings (the ConfigMap's data, and the migration Job's env): name → string value. */}}
{{- define "fluxplane.configData" -}}
FLUXPLANE_ALLOWED_HOSTS: {{ include "fluxplane.allowedHosts" . | quote }}
{{- with .Values.csrfTrustedOrigins }}
FLUXPLANE_CSRF_TRUSTED_ORIGINS: {{ join "," . | quote }}
{{- end }}
{{- $host := include "fluxplane.publicHost" . }}
{{- if or .Values.baseUrl $host }}
FLUXPLANE_BASE_URL: {{ default (printf "https://%s" $host) .Values.baseUrl | quote }}
{{- end }}
FLUXPLANE_DATA_DIR: "/data"
FLUXPLANE_HEARTBEAT_DIR: "/tmp/fluxplane"
FLUXPLANE_LOG_LEVEL: {{ .Values.logLevel | quote }}
FLUXPLANE_TIME_ZONE: {{ .Values.timeZone | quote }}
FLUXPLANE_SSL_REDIRECT: {{ ternary "1" "0" .Values.sslRedirect | quote }}
FLUXPLANE_WEB_WORKERS: {{ .Values.web.workers | quote }}
FLUXPLANE_MIGRATE: "0"
FLUXPLANE_CREATE_PULL_REQUEST: {{ ternary "1" "0" .Values.createPullRequest | quote }}
FLUXPLANE_GIT_TYPE: {{ .Values.git.type | quote }}
FLUXPLANE_GIT_CONNECTION: {{ .Values.git.connection | quote }}
FLUXPLANE_GIT_URL: {{ .Values.git.url | quote }}
FLUXPLANE_GIT_BASE_BRANCH: {{ .Values.git.baseBranch | quote }}
FLUXPLANE_GIT_API_URL: {{ .Values.git.apiUrl | quote }}
FLUXPLANE_GIT_REPOSITORY: {{ .Values.git.repository | quote }}
{{- if .Values.git.tokenSecret.name }}
FLUXPLANE_GIT_TOKEN_REF: "file:/var/run/fluxplane/git-token"
{{- end }}
FLUXPLANE_CLUSTER_NAME: {{ .Values.cluster.name | quote }}
FLUXPLANE_CLUSTER_CONNECTION: "in-cluster"
{{- $toggles := .Values.playbooks }}
{{- range $key, $name := include "fluxplane.playbookVariables" . | fromYaml }}
FLUXPLANE_PLAYBOOK_{{ $name }}: {{ ternary "1" "0" (index $toggles $key) | quote }}
{{- end }}
FLUXPLANE_APPROVALS_EXEC: {{ .Values.approvals.exec | quote }}
FLUXPLANE_APPROVALS_GITOPS: {{ .Values.approvals.gitops | quote }}
{{- range $name := list "suspend" "resume" "reconcile" }}
{{- $n := index $.Values.approvals $name }}
{{- if not (kindIs "invalid" $n) }}
FLUXPLANE_APPROVALS_{{ upper $name }}: {{ $n | quote }}
{{- end }}
{{- end }}
FLUXPLANE_APPROVAL_EXPIRY_HOURS: {{ .Values.approvals.expiryHours | quote }}
{{- with .Values.email.backend }}
FLUXPLANE_EMAIL_BACKEND: {{ . | quote }}
{{- end }}
FLUXPLANE_EMAIL_HOST: {{ .Values.email.host | quote }}
FLUXPLANE_EMAIL_PORT: {{ .Values.email.port | quote }}
FLUXPLANE_EMAIL_USER: {{ .Values.email.user | quote }}
FLUXPLANE_EMAIL_TLS: {{ ternary "1" "0" .Values.email.tls | quote }}
FLUXPLANE_EMAIL_FROM: {{ .Values.email.from | quote }}
HOME: "/tmp"
XDG_CACHE_HOME: "/tmp/.cache"
{{- end -}}

{{/* extraEnv, checked: no secret (they belong in the Secret) and nothing the chart already sets. */}}
{{- define "fluxplane.extraEnv" -}}
{{- $secrets := include "fluxplane.secretVariables" . | fromYaml -}}
{{- $set := include "fluxplane.configData" . | fromYaml -}}
{{- range $name, $value := .Values.extraEnv }}
{{- if hasKey $secrets $name }}
{{- fail (printf "extraEnv.%s is a secret and would land in a ConfigMap: set it with secret.existingSecret (key secret.keys.%s) or secret.values.%s" $name (index $secrets $name) (index $secrets $name)) }}
{{- end }}
{{- if and (regexMatch "(PASSWORD|TOKEN|SECRET|PRIVATE_KEY|HMAC_KEY)" $name) (not (hasSuffix "_REF" $name)) }}
{{- fail (printf "extraEnv.%s looks like a secret and would land in a ConfigMap: put it in a Secret and reference it with extraEnvFrom (secretRef), or use secret.*" $name) }}
{{- end }}
{{- if hasKey $set $name }}
{{- fail (printf "extraEnv.%s is already set by the chart (it would be rendered twice): use the chart's value for it instead (see values.yaml)" $name) }}
{{- end }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* Secret references of every Fluxplane container. */}}
{{- define "fluxplane.secretEnv" -}}
{{- $keys := .Values.secret.keys -}}
{{- $secret := include "fluxplane.secretName" . -}}
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

{{/* Environment of every Deployment container: the ConfigMap, extras, the secret keys. */}}
{{- define "fluxplane.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "fluxplane.fullname" . }}
  {{- with .Values.extraEnvFrom }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
env:
  {{- include "fluxplane.secretEnv" . | nindent 2 }}
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

{{/* Pod-level fields shared by every workload; dict "root" $ "component" NAME "serviceAccount" "" | NAME.
     Scheduling: the component's own nodeSelector/tolerations/affinity/topologySpreadConstraints/priorityClassName
     when set, else the chart-wide ones; topology spread defaults to a soft spread over nodes and zones. */}}
{{- define "fluxplane.podCommon" -}}
{{- $root := .root -}}
{{- $c := index $root.Values .component | default dict -}}
{{- if .serviceAccount }}
serviceAccountName: {{ .serviceAccount }}
{{- else }}
automountServiceAccountToken: false
{{- end }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with (default $root.Values.priorityClassName $c.priorityClassName) }}
priorityClassName: {{ . }}
{{- end }}
{{- with (default $root.Values.nodeSelector $c.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default $root.Values.tolerations $c.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default $root.Values.affinity $c.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- $spread := default $root.Values.topologySpreadConstraints $c.topologySpreadConstraints }}
{{- if $spread }}
topologySpreadConstraints:
  {{- toYaml $spread | nindent 2 }}
{{- else if $root.Values.defaultTopologySpread }}
topologySpreadConstraints:
  {{- range $key := list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
  - maxSkew: 1
    topologyKey: {{ $key }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "fluxplane.componentSelector" (dict "root" $root "component" $.component) | nindent 8 }}
  {{- end }}
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

{{/* The init container of worker, scheduler and watcher: wait until the schema has every migration. */}}
{{- define "fluxplane.waitForSchema" -}}
{{- if .Values.migrations.waitForSchema }}
initContainers:
  {{- include "fluxplane.container" (dict "root" . "name" "wait-for-schema" "args" (list "wait-for-schema" "--timeout" (toString .Values.migrations.waitTimeoutSeconds)) "resources" .Values.migrations.resources) | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The liveness probe of a process without HTTP: its heartbeat file; dict "root" $ "name" NAME "probe" MAP. */}}
{{- define "fluxplane.heartbeatProbe" -}}
livenessProbe:
  exec:
    command: [fluxplane-entrypoint, alive, {{ .name }}, {{ .probe.maxHeartbeatAgeSeconds | quote }}]
  periodSeconds: {{ .probe.periodSeconds }}
  timeoutSeconds: {{ .probe.timeoutSeconds }}
  failureThreshold: {{ .probe.failureThreshold }}
  initialDelaySeconds: {{ .probe.initialDelaySeconds }}
{{- end -}}

{{/* Annotations that roll the pods when the configuration changes. */}}
{{- define "fluxplane.configChecksum" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.secret.existingSecret }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- end -}}

{{/* Pod template metadata of one component; dict "root" $ "component" NAME. */}}
{{- define "fluxplane.podMetadata" -}}
{{- $root := .root -}}
labels:
  {{- include "fluxplane.componentSelector" . | nindent 2 }}
  {{- with $root.Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  {{- include "fluxplane.configChecksum" $root | nindent 2 }}
  {{- with (index $root.Values .component).podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}
