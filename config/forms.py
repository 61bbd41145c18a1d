from collections.abc import Callable
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.renderers import TemplatesSetting


class BootstrapFormRenderer(TemplatesSetting):
    """Renders every form ({{ form }}) with Bootstrap markup and errors beside fields."""

    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"


def is_fragment_request(request) -> bool:
    """An htmx request for a fragment (not a history restore, which wants the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def add_service_error(form, exc: ValidationError) -> None:
    """A service's refusal onto the form: on its fields when it names only
    fields of this form, else as errors of the whole form."""
    fields = set(form.fields) | {NON_FIELD_ERRORS}
    if hasattr(exc, "error_dict") and set(exc.error_dict) <= fields:
        form.add_error(None, exc)
    else:
        form.add_error(None, exc.messages)


def submit(request, form, action: Callable[[dict], Any]) -> tuple[bool, Any]:
    """On a valid POST, call the service with the cleaned data; its refusal goes onto the form.

    Returns (done, what the service returned).
    """
    if request.method != "POST" or not form.is_valid():
        return False, None
    try:
        return True, action(form.cleaned_data)
    except ValidationError as exc:
        add_service_error(form, exc)
        return False, None
