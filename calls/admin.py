"""Calls and turns in the admin: read-only (the record is written by the recorder and Vapi's reports,
and deleted only by `purge_calls`). The console's call pages (/console/) are the richer view."""
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from calls.models import Call, Turn
from core.admin import ReadOnlyAdmin


class TurnInline(admin.TabularInline):
    model = Turn
    fields = ("started_at", "caller_text", "agent_text", "tools", "ttft_ms", "duration_ms", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Call)
class CallAdmin(ReadOnlyAdmin):
    list_display = ("call_id", "started_at", "type", "outcome", "masked_phone", "customer", "verification_level",
                    "ended_reason", "duration_seconds", "console_link")
    list_filter = ("outcome", "type", "started_at")
    search_fields = ("call_id", "masked_phone", "customer__name")
    date_hierarchy = "started_at"
    list_select_related = ("customer",)
    inlines = [TurnInline]

    @admin.display(description="console")
    def console_link(self, call):
        return format_html('<a href="{}">call page</a>', reverse("calls_console:call", args=[call.pk]))


@admin.register(Turn)
class TurnAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "call", "endpoint", "model", "ttft_ms", "duration_ms", "tokens_in", "tokens_out",
                    "error")
    list_filter = ("endpoint", "error")
    search_fields = ("call__call_id", "request_id")
    list_select_related = ("call",)
