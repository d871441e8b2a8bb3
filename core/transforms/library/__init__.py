"""The standard transforms, by template name.

Each is ``function(ctx: TransformContext)``; a template whose ``entrypoint`` is
empty runs the built-in of its name.
"""

BUILTINS: dict[str, str] = {
    "noop": "core.transforms.library.noop:noop",
}
