from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "outbound"
    verbose_name = "Outbound calls"

    def ready(self):
        from outbound import receivers  # noqa: F401  (connects to calls.signals.vapi_event)
