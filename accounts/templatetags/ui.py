"""Small presentation helpers used by every template (loaded as builtins)."""

from django import template

register = template.Library()

_WIDGET_CLASS = {
    "checkbox": "form-check-input",
    "select": "form-select",
    "selectmultiple": "form-select",
    "nullbooleanselect": "form-select",
    "radioselect": "",
    "checkboxselectmultiple": "",
}


@register.filter
def bs_widget(bound_field, extra: str = ""):
    """Render a bound field's widget with Bootstrap's classes and its error state."""
    css = _WIDGET_CLASS.get(bound_field.widget_type, "form-control")
    if bound_field.errors:
        css += " is-invalid"
    if extra:
        css += f" {extra}"
    attrs = {"class": css.strip()} if css.strip() else {}
    return bound_field.as_widget(attrs=attrs)
