"""A transform that uses a database secret the way transforms should (for the secrets test).

It reads the secret through ``ctx.secret``, logs it (its repr shows keys only), builds
the connection URL (which holds the password) and publishes only facts about them.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

NOTEBOOK_SOURCE = [
    ("parameters", "transform_id = None\nrun_id = None\nsecret_name = 'warehouse'\n"),
    (
        None,
        "from core.transforms.notebook import load_context\n\n"
        "ctx = load_context(transform_id, run_id)\n",
    ),
    (
        None,
        "secret = ctx.secret(secret_name, 'database')\n"
        "ctx.logger.info('the notebook uses %s', secret)\n"
        "print(secret)\n"
        "secret",
    ),
    (
        None,
        "import pyarrow as pa\n\n"
        "url = secret.url\n"
        "ctx.metadata['secret'] = repr(secret)\n"
        "ctx.publish(pa.table({'password_length': [len(secret.password)],"
        " 'url_length': [len(url)]}))",
    ),
]


def database_report(ctx: Any) -> pa.Table:
    """Read the ``warehouse`` database secret, log it, and publish its lengths."""
    secret = ctx.secret(ctx.variables["secret_name"], "database")
    ctx.logger.info("connecting with %s as %s", secret, secret.user)
    ctx.logger.debug("secret %r has keys %s", secret, secret.keys())
    url = secret.url  # holds the password: used, never shown
    ctx.metadata["secret"] = secret.identifier
    return pa.table(
        {
            "user": [secret.user],
            "password_length": [len(secret.password)],
            "url_length": [len(url)],
        }
    )
