from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = "Demo model"

    def ready(self):
        from agent.models import register_stream
        from demo.model import stream

        register_stream("demo", stream)
