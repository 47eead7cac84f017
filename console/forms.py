"""The call list's filters, as a GET form (the same query string drives the page and its CSV)."""
from django import forms

from calls.models import Call
from calls.selectors import CallFilters


class CallFilterForm(forms.Form):
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    outcome = forms.ChoiceField(required=False, choices=[("", "any outcome"), *Call.Outcome.choices])
    type = forms.ChoiceField(required=False, choices=[("", "any type"), *Call.Type.choices])
    handed_over = forms.ChoiceField(required=False, label="Handed over",
                                    choices=[("", "either"), ("yes", "handed over"), ("no", "not handed over")])
    customer = forms.CharField(required=False, max_length=100,
                               widget=forms.TextInput(attrs={"placeholder": "name, last digits or id"}))

    def filters(self) -> CallFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return CallFilters(**{name: data.get(name) or (None if name in ("start", "end") else "")
                              for name in self.fields})


class DashboardForm(forms.Form):
    days = forms.TypedChoiceField(required=False, coerce=int, empty_value=7, initial=7,
                                  choices=[(1, "last 24 hours"), (7, "last 7 days"), (14, "last 14 days"),
                                           (31, "last 31 days")])
    type = forms.ChoiceField(required=False, choices=[("", "all types"), *Call.Type.choices])
