"""The playground's permissions. Django keeps permissions per model, so they hang on a model with no
table (`managed = False`): nothing is stored, the migration only makes the two permissions exist
for the admin's user and group forms."""
from django.db import models


class Playground(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("use_playground", "Can talk to the agent in the playground"),
            ("call_as_real_customer", "Can call as a real customer (not one of the demo bank's) in the playground"),
        ]
