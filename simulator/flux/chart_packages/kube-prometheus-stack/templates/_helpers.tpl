{{- define "kps.fullname" -}}
{{- .Values.fullnameOverride | default (ternary .Release.Name (printf "%s-%s" .Release.Name .Chart.Name) (contains .Chart.Name .Release.Name)) | trunc 26 | trimSuffix "-" }}
{{- end }}

{{/* root, component, app (name label), kind, port, image (repository/tag), resources */}}
{{- define "kps.workload" -}}
{{- $name := printf "%s-%s" (include "kps.fullname" .root) .component }}
apiVersion: apps/v1
kind: {{ .kind }}
metadata:
  name: {{ $name }}
  labels:
    app.kubernetes.io/name: {{ .app }}
    app.kubernetes.io/instance: {{ .root.Release.Name }}
    app.kubernetes.io/component: {{ .component }}
    app.kubernetes.io/version: {{ .root.Chart.AppVersion | trimPrefix "v" | quote }}
    helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
spec:
  {{- if ne .kind "DaemonSet" }}
  replicas: 1
  {{- end }}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .app }}
      app.kubernetes.io/instance: {{ .root.Release.Name }}
      app.kubernetes.io/component: {{ .component }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ .app }}
        app.kubernetes.io/instance: {{ .root.Release.Name }}
        app.kubernetes.io/component: {{ .component }}
        app.kubernetes.io/version: {{ .root.Chart.AppVersion | trimPrefix "v" | quote }}
        helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
    spec:
      containers:
        - name: {{ .component }}
          image: "{{ .image.repository }}:{{ .image.tag }}"
          ports:
            - name: http
              containerPort: {{ .port }}
          {{- with .resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels:
    app.kubernetes.io/name: {{ .app }}
    app.kubernetes.io/instance: {{ .root.Release.Name }}
    app.kubernetes.io/component: {{ .component }}
    app.kubernetes.io/version: {{ .root.Chart.AppVersion | trimPrefix "v" | quote }}
    helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
spec:
  selector:
    app.kubernetes.io/name: {{ .app }}
    app.kubernetes.io/instance: {{ .root.Release.Name }}
    app.kubernetes.io/component: {{ .component }}
  ports:
    - name: http
      port: {{ .port }}
      targetPort: http
{{- end }}
