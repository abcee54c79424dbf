"""Form pieces shared by the ClickOps playbooks: git-engine validation as form errors, safe YAML fields,
container choices and resource quantities."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from gitops import InvalidInput, validate
from graph.models import KubeObject


def check_input(fn, *args, **kwargs):
    """Run a git-engine validator and turn its InvalidInput into a form ValidationError (same message)."""
    try:
        return fn(*args, **kwargs)
    except InvalidInput as exc:
        raise ValidationError(str(exc)) from None


class YamlField(forms.CharField):
    """A YAML mapping typed by a user: parsed safely (bounded size and nesting, no tabs, several documents,
    duplicate keys, binary values or complex keys; anchors only with ``allow_anchors``, bounded)."""

    widget = forms.Textarea(attrs={"rows": 12, "cols": 80, "spellcheck": "false"})

    def __init__(self, *args, allow_anchors: bool = False, **kwargs) -> None:
        self.allow_anchors = allow_anchors
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        # Browsers submit a textarea's line breaks as CRLF; the files in git use LF (with CRLF, an edited document
        # would be written with a CR on every line and its diff would replace the whole document).
        value = super().to_python(value)
        return value.replace("\r\n", "\n").replace("\r", "\n") if value else value

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return value
        check_input(validate.load_user_yaml, value, "yaml", allow_anchors=self.allow_anchors)
        return value


def containers_of(obj: KubeObject) -> list[str]:
    template = (obj.spec or {}).get("template") or {}
    if obj.kind == "CronJob":
        template = (((obj.spec or {}).get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    return [c.get("name") for c in ((template.get("spec") or {}).get("containers") or []) if c.get("name")]


class OverlayMixin(forms.Form):
    """The option the impact preview offers when a shared file would change other clusters too."""

    overlay = forms.BooleanField(
        required=False, label="Only in this Kustomization",
        help_text="write the change as a patch in the picked Flux Kustomization's spec.patches instead of the shared "
                  "file, so other Kustomizations (other clusters) building that file do not change")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.order_fields([name for name in self.fields if name != "overlay"] + ["overlay"])  # the option last


class ContainerForm(OverlayMixin):
    container = forms.CharField(max_length=63)

    def clean_container(self):
        return check_input(validate.dns1123_label, self.cleaned_data["container"], "container")



def requests_and_limits(data: dict) -> tuple[dict[str, str], dict[str, str]]:
    """cpu/memory requests and limits from ``<resource>_request`` / ``<resource>_limit`` fields, validated as
    quantities with limits ≥ requests (ValidationError with the git engine's message)."""
    requests = {k: data[f"{k}_request"] for k in ("cpu", "memory") if data.get(f"{k}_request")}
    limits = {k: data[f"{k}_limit"] for k in ("cpu", "memory") if data.get(f"{k}_limit")}
    for key, value in (*requests.items(), *limits.items()):
        check_input(validate.quantity, value, key)
    check_input(validate.resources, requests, limits)
    return requests, limits



def cleaned_for_storage(data: dict[str, Any]) -> dict[str, Any]:
    """Form data as stored on the run (JSON-safe)."""
    return {k: v for k, v in data.items() if v not in (None, "")}
