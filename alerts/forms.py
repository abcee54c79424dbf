"""Forms of the silence pages: create (with preview) and change the end or reason."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from alerts.matchers import parse_matchers


class SilenceForm(forms.Form):
    """A new silence on a fixed target. The policy maximum is checked by Silence.check_window as well."""

    duration_minutes = forms.IntegerField(label="Duration (minutes)", min_value=1, initial=120)
    starts_at = forms.DateTimeField(required=False, help_text="empty: now (YYYY-MM-DD HH:MM, server time zone)")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    include_descendants = forms.BooleanField(required=False, initial=True,
                                             label="Also silence everything below it in the Flux tree")
    matchers = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                               help_text='optional label matchers, one per line: severity="warning", '
                                         'alertname=~"KubePod.*"')

    def clean_duration_minutes(self) -> int:
        minutes = self.cleaned_data["duration_minutes"]
        if minutes > settings.FLUXPLANE_SILENCE_MAX_HOURS * 60:
            raise ValidationError(f"At most {settings.FLUXPLANE_SILENCE_MAX_HOURS} hours.")
        return minutes

    def clean_matchers(self) -> list[dict]:
        return parse_matchers(self.cleaned_data.get("matchers") or "")

    def window(self):
        starts_at = self.cleaned_data.get("starts_at") or timezone.now()
        return starts_at, starts_at + timezone.timedelta(minutes=self.cleaned_data["duration_minutes"])


class SilenceChangeForm(forms.Form):
    """Extend/shorten (a new end) and/or change the reason of an active silence."""

    ends_at = forms.DateTimeField(required=False, help_text="YYYY-MM-DD HH:MM, server time zone")
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
