"""Jinja page templates, MJML and text mail templates, and static files (Swedish).

Not Python: this directory is shipped as the package ``service.templates`` (see
``[tool.setuptools.package-dir]`` in pyproject.toml), so that ``pip install .`` carries
the templates and ``service.settings.TEMPLATES_DIR`` finds them through
``importlib.resources`` in a wheel and in an editable install alike. The file exists so
that an editable install maps it as a regular package.
"""
