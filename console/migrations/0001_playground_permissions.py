"""The playground's two permissions (console.models.Playground: no table is created)."""
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='Playground',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
            ],
            options={
                'permissions': [('use_playground', 'Can talk to the agent in the playground'), ('call_as_real_customer', "Can call as a real customer (not one of the demo bank's) in the playground")],
                'managed': False,
                'default_permissions': (),
            },
        ),
    ]
