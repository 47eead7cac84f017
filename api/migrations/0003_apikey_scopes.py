"""API keys get scopes (api.models.SCOPES). Every key issued before keeps `chat` only: the column
is added with that value for the existing rows, so a key given to Vapi or a client works as before
and none of them can place outbound calls. A key for the bank's systems is issued anew with
`create_api_key NAME --scope outbound` (README "API keys")."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('api', '0002_apikey_verbose_name'),
    ]

    operations = [
        migrations.AddField(
            model_name='apikey',
            name='scopes',
            field=models.CharField(default='chat', help_text='What the key may be used for, space-separated: chat, outbound.', max_length=100),
        ),
    ]
