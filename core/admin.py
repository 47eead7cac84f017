"""What the apps' admins share: a read-only ModelAdmin for records that only the bank's services write
(the audit trail, cases, ledger rows, call records): staff see them and change none of them."""
from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
