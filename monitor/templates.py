"""User message templates: read the configured `templates` directory once and check every placeholder.

The directory may hold any of the files named in monitor.render.TEMPLATE_FIELDS (alert.subject, alert.txt,
alert.html, alert.slack, digest.subject, digest.txt, digest.html, digest.slack); a form without a file keeps
the built-in layout. Templates are `string.Template` texts: `$name` or `${name}`, `$$` for a dollar sign.
An unknown file, an unknown placeholder or a stray `$` is a ConfigError naming the file and line, raised when
the configuration is loaded (start and reload), never while sending. Reads files; rendering is in render.py.
"""

from __future__ import annotations

import string
from pathlib import Path

from monitor.errors import ConfigError
from monitor.render import NO_TEMPLATES, TEMPLATE_FIELDS, Templates

MAX_TEMPLATE_BYTES = 256 * 1024


def load_templates(directory: Path | None) -> Templates:
    """The templates in `directory` (None: the built-in layout only), validated; ConfigError on any problem."""
    if directory is None:
        return NO_TEMPLATES
    if not directory.is_dir():
        raise ConfigError(
            "templates directory not found", location=str(directory), hint="create it or remove `templates`"
        )
    files: dict[str, str] = {}
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.name.lower().startswith("readme") or not path.is_file():
            continue
        if path.name not in TEMPLATE_FIELDS:
            raise ConfigError(
                "not a template name",
                location=str(path),
                hint=f"template files are {', '.join(sorted(TEMPLATE_FIELDS))}",
            )
        files[path.name] = _read(path)
    return Templates(files=files)


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_TEMPLATE_BYTES:
            raise ConfigError(f"template larger than {MAX_TEMPLATE_BYTES // 1024} KiB", location=str(path))
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError("template is not UTF-8 text", location=str(path)) from None
    except OSError as error:
        raise ConfigError(f"cannot read template: {error.strerror or error}", location=str(path)) from None
    check_template(path, text)
    return text


def check_template(path: Path, text: str) -> None:
    """Raise ConfigError (file:line) for a stray `$` or a placeholder the template's form does not offer."""
    template = string.Template(text)
    allowed = TEMPLATE_FIELDS[path.name]
    if not template.is_valid():
        line = _line_of_bad_dollar(text)
        raise ConfigError(
            "a '$' that starts no placeholder",
            location=f"{path}:{line}",
            hint="write $name or ${name} for a value, $$ for a dollar sign",
        )
    for name in template.get_identifiers():
        if name not in allowed:
            raise ConfigError(
                f"unknown placeholder ${name}",
                location=f"{path}:{_line_of(text, name)}",
                hint=f"{path.name} offers {', '.join('$' + field for field in sorted(allowed))}",
            )


def _line_of(text: str, name: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if f"${name}" in line or f"${{{name}}}" in line:
            return number
    return 1


def _line_of_bad_dollar(text: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if not string.Template(line).is_valid():
            return number
    return 1
