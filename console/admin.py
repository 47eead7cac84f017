"""The admin site as the bank's console: its titles, and "View site" opens the playground."""
from django.contrib import admin

admin.site.site_header = "Fintalk console"
admin.site.site_title = "Fintalk console"
admin.site.index_title = "The data the agent reads and changes"
admin.site.site_url = "/playground/"
admin.site.enable_nav_sidebar = False  # the bank's tables are wide; the index lists every model anyway
