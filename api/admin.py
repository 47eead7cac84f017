"""API keys in the admin: create (the key is shown once, only its sha256 is stored), revoke, last use.

Like `create_api_key`, the add form asks for a name and the key's scopes (`chat` ticked); the page
after saving shows the key once and is never cached. Scopes are fixed once issued: a key that needs
others is issued anew. A key is revoked, never deleted, so its name and last use stay on record.
"""
from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone

from api.models import CHAT, SCOPES, ApiKey, parse_scopes


class ApiKeyAddForm(forms.ModelForm):
    scope_choices = forms.MultipleChoiceField(
        label="Scopes", choices=[(name, f"{name}: {what}") for name, what in SCOPES.items()], initial=[CHAT],
        widget=forms.CheckboxSelectMultiple, help_text="Vapi and chat clients need chat; the bank's systems outbound.")

    class Meta:
        model = ApiKey
        fields = ("name",)

    def save(self, commit=True):
        self.instance.scopes = parse_scopes(self.cleaned_data["scope_choices"])
        return super().save(commit)


class ActiveFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "active"), ("revoked", "revoked")]

    def queryset(self, request, queryset):
        if self.value() in ("active", "revoked"):
            return queryset.filter(revoked_at__isnull=self.value() == "active")
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "shown_prefix", "scopes", "created_at", "last_used_at", "status")
    list_filter = (ActiveFilter, "scopes")
    search_fields = ("name", "prefix")
    actions = ["revoke_keys"]

    shown = ("name", "shown_prefix", "scopes", "created_at", "last_used_at", "revoked_at")

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ("name", "scope_choices") if obj is None else self.shown

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.shown

    @admin.display(description="prefix")
    def shown_prefix(self, api_key):
        return f"{api_key.prefix}..."

    @admin.display(description="status")
    def status(self, api_key):
        return "active" if api_key.is_active else f"revoked {timezone.localtime(api_key.revoked_at):%Y-%m-%d %H:%M}"

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if not change:
            obj.issued_key = obj.set_new_key()  # kept on this instance, for this response only
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        response = TemplateResponse(request, "admin/api/apikey/issued.html", {
            **self.admin_site.each_context(request),
            "opts": self.opts, "api_key": obj, "key": obj.issued_key, "title": f"API key '{obj.name}' created",
        })
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_keys(self, request, queryset):
        active = list(queryset.filter(revoked_at__isnull=True))
        for api_key in active:
            api_key.revoke()
        self.message_user(request, f"Revoked {len(active)} API key{'s' if len(active) != 1 else ''}; "
                                   "they stop working on the next request.", messages.SUCCESS)
